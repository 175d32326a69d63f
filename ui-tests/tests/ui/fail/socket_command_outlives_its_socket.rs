// A socket command (`SocketInq`, `GetSockOpt`, ...) borrows its socket
// (`SocketFd`): it cannot be pushed after the socket is closed, when the
// number may name another file whose driver reads the command differently.
use uring::{Ring, ops::SocketInq};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    let inq = SocketInq::new(&a);
    drop(a);
    ring.scope(|s| {
        s.push(inq).unwrap();
    });
}
