-- Chinook sample database (https://github.com/lerocha/chinook-database, MIT), original table and
-- column names; SQL Server/SQLite types mapped to DuckDB (NVARCHAR -> VARCHAR, DATETIME -> TIMESTAMP,
-- NUMERIC(10,2) -> DECIMAL(10,2)). Tables are listed parents first, in load order.
CREATE TABLE Artist (
    ArtistId INTEGER NOT NULL PRIMARY KEY,
    Name VARCHAR
);
CREATE TABLE Album (
    AlbumId INTEGER NOT NULL PRIMARY KEY,
    Title VARCHAR NOT NULL,
    ArtistId INTEGER NOT NULL REFERENCES Artist (ArtistId)
);
CREATE TABLE Employee (
    EmployeeId INTEGER NOT NULL PRIMARY KEY,
    LastName VARCHAR NOT NULL,
    FirstName VARCHAR NOT NULL,
    Title VARCHAR,
    ReportsTo INTEGER REFERENCES Employee (EmployeeId),
    BirthDate TIMESTAMP,
    HireDate TIMESTAMP,
    Address VARCHAR,
    City VARCHAR,
    State VARCHAR,
    Country VARCHAR,
    PostalCode VARCHAR,
    Phone VARCHAR,
    Fax VARCHAR,
    Email VARCHAR
);
CREATE TABLE Customer (
    CustomerId INTEGER NOT NULL PRIMARY KEY,
    FirstName VARCHAR NOT NULL,
    LastName VARCHAR NOT NULL,
    Company VARCHAR,
    Address VARCHAR,
    City VARCHAR,
    State VARCHAR,
    Country VARCHAR,
    PostalCode VARCHAR,
    Phone VARCHAR,
    Fax VARCHAR,
    Email VARCHAR NOT NULL,
    SupportRepId INTEGER REFERENCES Employee (EmployeeId)
);
CREATE TABLE Genre (
    GenreId INTEGER NOT NULL PRIMARY KEY,
    Name VARCHAR
);
CREATE TABLE MediaType (
    MediaTypeId INTEGER NOT NULL PRIMARY KEY,
    Name VARCHAR
);
CREATE TABLE Playlist (
    PlaylistId INTEGER NOT NULL PRIMARY KEY,
    Name VARCHAR
);
CREATE TABLE Track (
    TrackId INTEGER NOT NULL PRIMARY KEY,
    Name VARCHAR NOT NULL,
    AlbumId INTEGER REFERENCES Album (AlbumId),
    MediaTypeId INTEGER NOT NULL REFERENCES MediaType (MediaTypeId),
    GenreId INTEGER REFERENCES Genre (GenreId),
    Composer VARCHAR,
    Milliseconds INTEGER NOT NULL,
    Bytes INTEGER,
    UnitPrice DECIMAL(10, 2) NOT NULL
);
CREATE TABLE Invoice (
    InvoiceId INTEGER NOT NULL PRIMARY KEY,
    CustomerId INTEGER NOT NULL REFERENCES Customer (CustomerId),
    InvoiceDate TIMESTAMP NOT NULL,
    BillingAddress VARCHAR,
    BillingCity VARCHAR,
    BillingState VARCHAR,
    BillingCountry VARCHAR,
    BillingPostalCode VARCHAR,
    Total DECIMAL(10, 2) NOT NULL
);
CREATE TABLE InvoiceLine (
    InvoiceLineId INTEGER NOT NULL PRIMARY KEY,
    InvoiceId INTEGER NOT NULL REFERENCES Invoice (InvoiceId),
    TrackId INTEGER NOT NULL REFERENCES Track (TrackId),
    UnitPrice DECIMAL(10, 2) NOT NULL,
    Quantity INTEGER NOT NULL
);
CREATE TABLE PlaylistTrack (
    PlaylistId INTEGER NOT NULL REFERENCES Playlist (PlaylistId),
    TrackId INTEGER NOT NULL REFERENCES Track (TrackId),
    PRIMARY KEY (PlaylistId, TrackId)
);
