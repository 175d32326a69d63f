// A `RecvMsg` lends its header and the iovecs it points to: both must
// outlive the scope, which waits for the op. Declare them before
// `ring.scope(..)`.
use std::io::IoSliceMut;
use uring::{MsgHdrMut, Ring, ops::RecvMsg};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let (_a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    let mut bytes = [0u8; 16];
    ring.scope(|s| {
        let mut bufs = [IoSliceMut::new(&mut bytes)];
        let mut msg = MsgHdrMut::new(&mut bufs);
        s.push(RecvMsg::new(&b, &mut msg)).unwrap();
    });
}
