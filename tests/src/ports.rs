//! Free loopback ports for servers started by tests.
//!
//! Asking the kernel for port 0 and dropping the listener is inherently racy (another process
//! may grab the port before our server binds it), but it is the best we can do for binaries
//! that take an explicit address. Within one test process we at least guarantee that no port is
//! handed out twice, which removes the common collision between tests running in parallel.

use std::collections::HashSet;
use std::net::TcpListener;
use std::sync::{Mutex, OnceLock};

/// Ports already handed out by this process; never released, so a port stays reserved for the
/// whole test run even after its server stopped (restarts reuse the same port deliberately).
fn handed_out() -> &'static Mutex<HashSet<u16>> {
    static PORTS: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    PORTS.get_or_init(|| Mutex::new(HashSet::new()))
}

/// Returns a loopback port that was free a moment ago and has not been returned before by this
/// process.
///
/// # Panics
/// If the kernel refuses to bind `127.0.0.1:0` repeatedly — the machine is then unusable for
/// these tests anyway.
pub fn free_port() -> u16 {
    for _ in 0..1000 {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener
            .local_addr()
            .expect("local_addr of bound listener")
            .port();
        drop(listener);
        let mut used = handed_out().lock().unwrap_or_else(|e| e.into_inner());
        if used.insert(port) {
            return port;
        }
    }
    panic!("could not find a loopback port that was not handed out already");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_unique_and_bindable() {
        let ports: Vec<u16> = (0..50).map(|_| free_port()).collect();
        let unique: HashSet<u16> = ports.iter().copied().collect();
        assert_eq!(unique.len(), ports.len());
        TcpListener::bind(("127.0.0.1", ports[0])).expect("port should be bindable");
    }
}
