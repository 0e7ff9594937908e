//! Approximate visitor location from the IP address.
//!
//! The operator points natter at a MaxMind-format database of their own (GeoLite2-City,
//! GeoIP2-City, a Country edition, or a compatible one such as DB-IP's); natter ships none,
//! because the free databases may not be redistributed. Without a configured file the server
//! simply does not construct a [`GeoIp`] and visitors have no location.
//!
//! The whole file is read into memory when opened (a City database is ~70 MB) so lookups
//! never touch the disk; to pick up a monthly update, open the new file and swap the value.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use maxminddb::{Reader, geoip2};
use serde::{Deserialize, Serialize};

use crate::Error;

/// Where an IP address is, as far as the database knows. Names are in English.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    /// ISO 3166-1 alpha-2, e.g. "GB".
    pub country_code: Option<String>,
    pub country: Option<String>,
    /// The largest subdivision: state, province or (in the UK) constituent country.
    pub region: Option<String>,
    pub city: Option<String>,
    /// IANA time zone, e.g. "Europe/London".
    pub time_zone: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

/// An opened GeoIP database. Cheap to share behind an `Arc`; lookups take `&self`.
pub struct GeoIp {
    reader: Reader<Vec<u8>>,
}

impl std::fmt::Debug for GeoIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoIp")
            .field("database_type", &self.database_type())
            .field("build_epoch", &self.reader.metadata().build_epoch)
            .finish()
    }
}

impl GeoIp {
    /// Reads a MaxMind DB file into memory and checks that it holds locations.
    pub fn open(path: impl AsRef<Path>) -> Result<GeoIp, Error> {
        let path = path.as_ref();
        let reader = Reader::open_readfile(path).map_err(|source| Error::GeoIpOpen {
            path: path.display().to_string(),
            source,
        })?;
        // An ASN or ISP database opens fine and then answers every lookup with nothing;
        // saying so at start-up saves an operator from wondering why no visitor has a place.
        let database_type = reader.metadata().database_type.clone();
        let has_locations = ["City", "Country", "Enterprise"]
            .iter()
            .any(|kind| database_type.contains(kind));
        if !has_locations {
            return Err(Error::GeoIpUnsupported {
                path: path.display().to_string(),
                database_type,
            });
        }
        Ok(GeoIp { reader })
    }

    /// The database's own name for its edition, e.g. "GeoLite2-City".
    pub fn database_type(&self) -> &str {
        &self.reader.metadata().database_type
    }

    /// Looks an address up. `None` for addresses that are not publicly routable (private,
    /// loopback, link-local, CGNAT, documentation, …: a visitor behind a misconfigured
    /// proxy, not a place), for addresses the database does not know, and for records with
    /// nothing useful in them.
    pub fn lookup(&self, ip: IpAddr) -> Option<Location> {
        let ip = ip.to_canonical();
        if !is_public(ip) {
            return None;
        }
        // A decoding error means a damaged or unexpected record; for one visitor's location
        // that is the same as not knowing.
        let record: geoip2::City<'_> = self.reader.lookup(ip).ok()?.decode().ok()??;
        let owned = |s: Option<&str>| s.map(str::to_owned);
        let location = Location {
            country_code: owned(record.country.iso_code),
            country: owned(record.country.names.english),
            region: owned(record.subdivisions.first().and_then(|s| s.names.english)),
            city: owned(record.city.names.english),
            time_zone: owned(record.location.time_zone),
            latitude: record.location.latitude,
            longitude: record.location.longitude,
        };
        let empty = location.country_code.is_none()
            && location.country.is_none()
            && location.region.is_none()
            && location.city.is_none()
            && location.time_zone.is_none()
            && location.latitude.is_none()
            && location.longitude.is_none();
        (!empty).then_some(location)
    }
}

/// Whether an address can belong to a visitor on the public internet. (`IpAddr::is_global`
/// would say this, but is not stable.)
pub fn is_public(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0 // "this network"
        || ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier-grade NAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link-local
        || (first == 0x2001 && ip.segments()[1] == 0x0db8)) // documentation
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// MaxMind's official test database. It is not in the repository (MaxMind's licence
    /// terms for redistribution are theirs to set); scripts/test-data.sh fetches it.
    fn test_database() -> GeoIp {
        let path = match std::env::var_os("NATTER_TEST_GEOIP") {
            Some(path) => PathBuf::from(path),
            None => Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../target/test-data/GeoIP2-City-Test.mmdb"),
        };
        assert!(
            path.is_file(),
            "GeoIP test database not found at {}: run scripts/test-data.sh (or set \
             NATTER_TEST_GEOIP to a GeoIP2-City-Test.mmdb)",
            path.display()
        );
        match GeoIp::open(&path) {
            Ok(db) => db,
            Err(e) => panic!("{e}"),
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_london_ipv4_address_resolves_to_london_gb() {
        let db = test_database();
        assert_eq!(db.database_type(), "GeoIP2-City");
        let location = db.lookup(ip("81.2.69.142")).unwrap();
        assert_eq!(location.country_code.as_deref(), Some("GB"));
        assert_eq!(location.country.as_deref(), Some("United Kingdom"));
        assert_eq!(location.region.as_deref(), Some("England"));
        assert_eq!(location.city.as_deref(), Some("London"));
        assert_eq!(location.time_zone.as_deref(), Some("Europe/London"));
        let (lat, lon) = (location.latitude.unwrap(), location.longitude.unwrap());
        assert!(
            (51.0..52.0).contains(&lat) && (-1.0..1.0).contains(&lon),
            "{lat} {lon}"
        );
    }

    #[test]
    fn an_ipv6_address_resolves_to_its_city() {
        let location = test_database().lookup(ip("2001:480:10::1")).unwrap();
        assert_eq!(location.country_code.as_deref(), Some("US"));
        assert_eq!(location.region.as_deref(), Some("California"));
        assert_eq!(location.city.as_deref(), Some("San Diego"));
        assert_eq!(location.time_zone.as_deref(), Some("America/Los_Angeles"));
    }

    #[test]
    fn a_country_only_ipv6_record_has_a_country_and_no_city() {
        let location = test_database().lookup(ip("2001:218::1")).unwrap();
        assert_eq!(location.country_code.as_deref(), Some("JP"));
        assert_eq!(location.country.as_deref(), Some("Japan"));
        assert_eq!(location.city, None);
        assert_eq!(location.time_zone.as_deref(), Some("Asia/Tokyo"));
    }

    #[test]
    fn an_ipv4_mapped_ipv6_address_is_looked_up_as_ipv4() {
        let location = test_database().lookup(ip("::ffff:81.2.69.142")).unwrap();
        assert_eq!(location.city.as_deref(), Some("London"));
    }

    #[test]
    fn an_address_missing_from_the_database_has_no_location() {
        let db = test_database();
        assert_eq!(db.lookup(ip("1.1.1.1")), None);
        assert_eq!(db.lookup(ip("2606:4700::1111")), None);
        // In the database, but with an empty record.
        assert_eq!(db.lookup(ip("2.3.3.3")), None);
    }

    #[test]
    fn private_and_loopback_addresses_are_never_looked_up() {
        let db = test_database();
        for addr in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.1.10",
            "172.16.0.1",
            "100.64.0.1",
            "169.254.1.1",
            "0.0.0.0",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:192.168.1.1",
        ] {
            assert_eq!(db.lookup(ip(addr)), None, "{addr}");
            assert!(!is_public(ip(addr)), "{addr}");
        }
        assert!(is_public(ip("81.2.69.142")));
        assert!(is_public(ip("2001:480:10::1")));
    }

    #[test]
    fn a_missing_file_is_an_error_naming_the_path() {
        let err = GeoIp::open("/nonexistent/GeoLite2-City.mmdb").unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/GeoLite2-City.mmdb"),
            "{err}"
        );
    }

    #[test]
    fn a_file_that_is_not_a_maxmind_database_is_an_error() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
        assert!(matches!(GeoIp::open(path), Err(Error::GeoIpOpen { .. })));
    }

    #[test]
    fn a_location_serializes_with_snake_case_fields() {
        let location = test_database().lookup(ip("81.2.69.142")).unwrap();
        let json = serde_json::to_value(&location).unwrap();
        assert_eq!(json["country_code"], "GB");
        assert_eq!(json["time_zone"], "Europe/London");
        let back: Location = serde_json::from_value(json).unwrap();
        assert_eq!(back, location);
    }
}
