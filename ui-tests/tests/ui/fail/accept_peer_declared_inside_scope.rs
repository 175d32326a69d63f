// An accept writes the peer's address into its `SockAddrBuf` when a
// connection comes (every connection, if multishot): the buffer must
// outlive the scope. Declare it before `ring.scope(..)`.
use uring::{Ring, SockAddrBuf, ops::Accept};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ring.scope(|s| {
        let mut peer = SockAddrBuf::new();
        s.push(Accept::new(&listener).peer(Some(&mut peer)))
            .unwrap();
    });
}
