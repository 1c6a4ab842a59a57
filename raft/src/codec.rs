//! Binary encoding for Raft types in Postgres rows and RPC bodies.
//!
//! MessagePack via `rmp-serde`: compact, self-describing enough for openraft's serde derives,
//! and byte payloads (`bytes::Bytes`) stay raw bytes instead of JSON arrays of numbers.

use serde::{Serialize, de::DeserializeOwned};
use std::io;

/// Encodes a value; failures are reported as `io::Error`, openraft's storage error type.
pub fn encode<T: Serialize + ?Sized>(v: &T) -> io::Result<Vec<u8>> {
    rmp_serde::to_vec(v).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Decodes a value.
pub fn decode<T: DeserializeOwned>(b: &[u8]) -> io::Result<T> {
    rmp_serde::from_slice(b).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Maps a database error to openraft's storage error type.
pub fn db_err(e: sqlx::Error) -> io::Error {
    io::Error::other(e)
}
