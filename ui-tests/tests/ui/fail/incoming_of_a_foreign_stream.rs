// A listener hands out uring::net's own streams, not a program's type.
use uring::net::Incoming;

fn main() {
    let _incoming: Option<Incoming<std::net::TcpStream>> = None;
}
