//! Rows for PostgreSQL's `COPY ... FROM STDIN (FORMAT binary)`: the fastest way to insert many
//! rows (no SQL to parse per row, no arrays to build and take apart, values sent in their
//! binary form).
//!
//! The format (PostgreSQL docs, "COPY: Binary Format"): an 11-byte signature, a flags word and a
//! header-extension length; each row is a 16-bit field count and, per field, a 32-bit length
//! (-1 for NULL) and the value's binary send form; a 16-bit -1 ends the data. Integers are
//! big-endian. Only the types the hub copies are here.

use uuid::Uuid;

/// The signature every binary COPY stream starts with.
const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

/// A binary COPY stream being built, for rows of a fixed number of fields.
#[derive(Debug)]
pub struct BinaryCopy {
    buf: Vec<u8>,
    fields: i16,
}

impl BinaryCopy {
    /// A stream of rows of `fields` fields each, with room for about `bytes` of data.
    pub fn new(fields: i16, bytes: usize) -> BinaryCopy {
        let mut buf = Vec::with_capacity(bytes + 19 + 2);
        buf.extend_from_slice(SIGNATURE);
        buf.extend_from_slice(&0_i32.to_be_bytes()); // flags: no OIDs
        buf.extend_from_slice(&0_i32.to_be_bytes()); // no header extension
        BinaryCopy { buf, fields }
    }

    /// Starts a row; its `fields` values follow, in the COPY statement's column order.
    pub fn row(&mut self) -> &mut Self {
        self.buf.extend_from_slice(&self.fields.to_be_bytes());
        self
    }

    fn field(&mut self, value: &[u8]) -> &mut Self {
        // A value is at most a few kilobytes here (ops are size-limited far below 2 GiB).
        let len = i32::try_from(value.len()).unwrap_or(i32::MAX);
        self.buf.extend_from_slice(&len.to_be_bytes());
        self.buf.extend_from_slice(value);
        self
    }

    pub fn uuid(&mut self, value: &Uuid) -> &mut Self {
        self.field(value.as_bytes())
    }

    pub fn int8(&mut self, value: i64) -> &mut Self {
        self.field(&value.to_be_bytes())
    }

    pub fn int4(&mut self, value: i32) -> &mut Self {
        self.field(&value.to_be_bytes())
    }

    /// A `text` value (its binary form is its UTF-8 bytes).
    pub fn text(&mut self, value: &str) -> &mut Self {
        self.field(value.as_bytes())
    }

    pub fn bytea(&mut self, value: &[u8]) -> &mut Self {
        self.field(value)
    }

    /// The finished stream, ready for `PgCopyIn::send`.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.extend_from_slice(&(-1_i16).to_be_bytes());
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_is_framed_as_postgres_reads_it() {
        let id = Uuid::from_u128(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10);
        let mut copy = BinaryCopy::new(4, 0);
        copy.row().uuid(&id).int8(-2).int4(7).text("sale");
        let bytes = copy.finish();
        let mut expected = b"PGCOPY\n\xff\r\n\0".to_vec();
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
        expected.extend_from_slice(&[0, 4]);
        expected.extend_from_slice(&[0, 0, 0, 16]);
        expected.extend_from_slice(id.as_bytes());
        expected.extend_from_slice(&[0, 0, 0, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]);
        expected.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 7]);
        expected.extend_from_slice(&[0, 0, 0, 4, b's', b'a', b'l', b'e']);
        expected.extend_from_slice(&[0xff, 0xff]);
        assert_eq!(bytes, expected);
    }
}
