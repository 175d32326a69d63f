// A buffer given to a reactor op is the op's until the completion hands it
// back: the caller cannot touch it meanwhile.
use uring::reactor::{Reactor, SharedFd, ops};

fn main() {
    let reactor = Reactor::new().unwrap();
    let file = SharedFd::new(std::fs::File::open("/dev/zero").unwrap());
    let mut buf = vec![0u8; 16];
    let read = reactor.handle().op(ops::Read::new(&file, buf, 0));
    buf[0] = 1;
    let (_, buf) = reactor.run_until(read).unwrap();
    drop(buf);
}
