// The forms a scope takes: buffers, iovecs and chains borrowed from outside
// the closure, read again once the scope has returned.
use std::io::{IoSlice, Write as _};
use std::os::unix::net::UnixStream;
use std::time::Duration;
use uring::{Ring, ops::{Nop, Read, Recv, WriteV}};

fn main() -> uring::Result<()> {
    let (mut a, b) = UnixStream::pair().unwrap();
    a.write_all(b"12345678").unwrap();
    let mut ring = Ring::new(8)?;
    let mut first = [0u8; 4];
    let mut second = [0u8; 4];
    let parts = [IoSlice::new(b"ab"), IoSlice::new(b"cd")];
    let done = ring.scope(|s| -> uring::Result<usize> {
        s.push(Read::new(&b, &mut first[..]).user_data(1))?;
        s.push(
            Recv::new(&b, &mut second[..])
                .user_data(2)
                .timeout(Duration::from_secs(5))
                .link(Nop::new().user_data(3)),
        )?;
        s.push(WriteV::new(&a, &parts[..]).user_data(4))?;
        let mut done = 0;
        while s.in_flight() > 0 {
            s.submit_and_wait(1)?;
            done += s.completions().count();
        }
        Ok(done)
    })?;
    assert_eq!(done, 5);
    assert_eq!(&first, b"1234");
    assert_eq!(&second, b"5678");
    Ok(())
}
