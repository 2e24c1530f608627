//! The table checksum extension: `GET /$checksum/{table}?until=<updatedAt>` answers a digest of
//! the caller's live rows of a table up to a position of the change clock, so a client can tell
//! whether its copy still matches the server's without downloading the rows.
//!
//! The digest is order-independent (a wrapping sum of per-row hashes), so the server can add up
//! rows in any order and a client can add up its own the same way, whatever its storage. Each
//! row hashes its id and version only: soft-deleted rows are left out on both sides (a client
//! keeps none), so a row deleted on the server but still held by the client, a missing row, an
//! extra row and a row at another version all change the digest.

use serde::{Deserialize, Serialize};

/// The path prefix of the checksum endpoint: `GET /$checksum/{table}`.
pub const CHECKSUM_PATH: &str = "/$checksum";

/// The query parameter naming the change-clock position: rows whose `updatedAt` is at or
/// before it count. Without it, every live row counts.
pub const UNTIL_PARAM: &str = "until";

/// The checksum of a set of rows, as the endpoint answers it and as a client computes its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TableChecksum {
    /// How many rows were added up.
    pub count: u64,
    /// The wrapping sum of [`row_hash`] over those rows, as 16 lower-case hex digits on the
    /// wire (a JSON number would lose bits in JavaScript clients).
    #[serde(with = "hex_u64")]
    pub digest: u64,
}

impl TableChecksum {
    /// Adds one live row.
    pub fn add(&mut self, id: &str, version: &str) {
        self.count += 1;
        self.digest = self.digest.wrapping_add(row_hash(id, version));
    }
}

/// The hash of one row: FNV-1a (64-bit) over the id's UTF-8 bytes, a 0xFF byte (which UTF-8
/// never contains, so `("ab", "c")` and `("a", "bc")` differ) and the version's bytes, then
/// SplitMix64's finaliser, so that the sum of many rows' hashes mixes every bit. Specified
/// byte for byte so that any client can compute it.
pub fn row_hash(id: &str, version: &str) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    for &b in id
        .as_bytes()
        .iter()
        .chain(&[0xFF])
        .chain(version.as_bytes())
    {
        h ^= u64::from(b);
        h = h.wrapping_mul(PRIME);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// `u64` as 16 hex digits in JSON.
mod hex_u64 {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(value: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{value:016x}"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let text = String::deserialize(d)?;
        if text.len() != 16 {
            return Err(D::Error::custom(format!(
                "digest '{text}' is not 16 hex digits"
            )));
        }
        u64::from_str_radix(&text, 16)
            .map_err(|_| D::Error::custom(format!("digest '{text}' is not 16 hex digits")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_order_of_rows_does_not_matter() {
        let mut a = TableChecksum::default();
        let mut b = TableChecksum::default();
        for (id, v) in [("x", "1"), ("y", "2"), ("z", "3")] {
            a.add(id, v);
        }
        for (id, v) in [("z", "3"), ("x", "1"), ("y", "2")] {
            b.add(id, v);
        }
        assert_eq!(a, b);
        assert_eq!(a.count, 3);
    }

    #[test]
    fn another_version_or_a_shifted_boundary_changes_the_hash() {
        assert_ne!(row_hash("a", "1"), row_hash("a", "2"));
        assert_ne!(row_hash("ab", "c"), row_hash("a", "bc"));
        assert_ne!(row_hash("", ""), 0);
    }

    #[test]
    fn the_hash_is_fixed_byte_for_byte() {
        // Computed by an independent implementation (a few lines of Python); a client in
        // another language checks its own against these.
        assert_eq!(row_hash("", ""), 0x4f2d_b50f_1240_40cd);
        assert_eq!(row_hash("item-1", "AAAAAAAAB9E="), 0xa215_c16b_49e6_ba65);
    }

    #[test]
    fn the_digest_travels_as_sixteen_hex_digits() {
        let c = TableChecksum {
            count: 2,
            digest: 0xff,
        };
        let json = serde_json::to_string(&c).unwrap_or_default();
        assert_eq!(json, r#"{"count":2,"digest":"00000000000000ff"}"#);
        assert_eq!(serde_json::from_str::<TableChecksum>(&json).ok(), Some(c));
        assert!(serde_json::from_str::<TableChecksum>(r#"{"count":1,"digest":"12"}"#).is_err());
        assert!(
            serde_json::from_str::<TableChecksum>(r#"{"count":1,"digest":"zzzzzzzzzzzzzzzz"}"#)
                .is_err()
        );
    }
}
