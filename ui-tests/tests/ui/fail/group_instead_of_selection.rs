// An op that may select a buffer takes a selection (group and length), not the
// bare group.
use uring::{BufferGroup, ops::Recv};

fn main() {
    let (socket, _peer) = std::os::unix::net::UnixStream::pair().unwrap();
    let _recv = Recv::new(&socket, BufferGroup::new(7));
}
