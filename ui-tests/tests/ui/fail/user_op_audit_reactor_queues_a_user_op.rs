// An op a program declares with `uring::ops!` is a ring op, like the
// library's: the reactor takes only ops that own their memory
// (`uring::reactor::Op`, an `unsafe` trait).
use uring::reactor::Reactor;

uring::ops! {
    /// Reads into a borrowed buffer.
    #[since = "5.6"]
    unsafe struct MyRead<'a> = READ {
        target: fd,
        buf: &'a mut [u8] => addr + len,
    }
}

fn main() {
    let (r, _w) = std::os::unix::net::UnixStream::pair().unwrap();
    let mut buf = [0u8; 16];
    let reactor = Reactor::new().unwrap();
    reactor
        .handle()
        .queue(MyRead::new(&r, &mut buf), |_, _| {})
        .unwrap();
}
