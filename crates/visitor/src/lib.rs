//! Visitor intelligence for natter: what an agent wants to know about a website visitor who
//! opens the chat widget, worked out from what the visitor's browser sends anyway.
//!
//! - [`geo`]: approximate location from the IP address, using a MaxMind-format database the
//!   operator provides (GeoLite2/GeoIP2 City or Country). No database, no location.
//! - [`ua`]: browser, operating system and device type from the `User-Agent` header, with
//!   the uap-core rule set used by most analytics tools.
//! - [`traffic`]: where the visit came from (search, ads, social, email, …) from the landing
//!   URL and the referrer.
//! - [`privacy`]: how much of the IP address is kept.
//! - [`hours`]: business hours in a time zone, to tell a visitor when someone will answer.
//! - [`origin`]: which websites may embed the widget.
//!
//! Why a crate of its own: all of this is pure computation on untrusted input, with no HTTP
//! and no database, so it is tested here with tables of real-world inputs and the server
//! only wires the results into its records. Every function is total: odd input yields
//! `None`, `Other` or `false`, never a panic.

pub mod geo;
pub mod hours;
pub mod origin;
pub mod privacy;
pub mod traffic;
pub mod ua;

pub use geo::{GeoIp, Location};
pub use hours::{BusinessHours, HoursExt};
pub use origin::DomainPattern;
pub use privacy::IpMode;
pub use traffic::Traffic;
pub use ua::{Device, DeviceType};

/// Errors of this crate. Only opening a GeoIP database can fail; everything else reports
/// problems in its return value.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read or is not a MaxMind DB file.
    #[error("cannot open GeoIP database {path}: {source}")]
    GeoIpOpen {
        path: String,
        #[source]
        source: maxminddb::MaxMindDbError,
    },
    /// The file is a MaxMind DB, but not one with locations (e.g. an ASN database).
    #[error(
        "GeoIP database {path} is of type {database_type:?}, which has no locations; use a \
         City or Country database (e.g. GeoLite2-City)"
    )]
    GeoIpUnsupported { path: String, database_type: String },
}
