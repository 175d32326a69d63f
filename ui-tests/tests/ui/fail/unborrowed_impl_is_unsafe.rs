// `Ring::push` takes any `Unborrowed` submission: a type that wraps a
// borrowing op (forwarding to its `Prepare`) may not promise, in safe code,
// that it borrows nothing, or the kernel would write into the buffer after
// the push ended its borrow.
use std::os::unix::net::UnixStream;
use uring::ops::Read;
use uring::{Fd, Unborrowed};

struct Wrapped<'a>(Read<'a, Fd<'a>>);

impl Unborrowed for Wrapped<'_> {}

fn main() {
    let (_tx, rx) = UnixStream::pair().unwrap();
    let mut buf = [0u8; 16];
    let _wrapped = Wrapped(Read::new(&rx, &mut buf[..]));
}
