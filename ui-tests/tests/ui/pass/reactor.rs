// The memory a reactor op may own, and the ways to queue one: each buffer
// comes back with the completion.
use std::cell::Cell;
use std::rc::Rc;

use uring::reactor::{IoBuf, Reactor, SharedFd, ops};

fn main() {
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let zero = SharedFd::new(std::fs::File::open("/dev/zero").unwrap());
    let null = SharedFd::new(
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/null")
            .unwrap(),
    );

    // A vector is filled up to its capacity, a boxed slice whole.
    let read = h.op(ops::Read::new(&zero, Vec::with_capacity(8), 0));
    let (res, buf) = reactor.run_until(read).unwrap();
    assert_eq!(res.unwrap(), 8);
    assert_eq!(buf, vec![0u8; 8]);
    let read = h.op(ops::Read::new(&zero, vec![1u8; 4].into_boxed_slice(), 0));
    let (res, buf) = reactor.run_until(read).unwrap();
    assert_eq!(res.unwrap(), 4);
    assert_eq!(&buf[..], &[0u8; 4]);

    // Static bytes, strings and a part of a vector are written; each
    // callback gets its buffer back.
    let written = Rc::new(Cell::new(0u32));
    let count = |written: &Rc<Cell<u32>>| {
        let written = written.clone();
        move |res: std::io::Result<u32>| written.set(written.get() + res.unwrap())
    };
    let c = count(&written);
    h.queue(ops::Write::new(&null, &b"static"[..], 0), move |r, _| c(r))
        .unwrap();
    let c = count(&written);
    h.queue(ops::Write::new(&null, "str", 0), move |r, _| c(r))
        .unwrap();
    let c = count(&written);
    h.queue(ops::Write::new(&null, String::from("owned"), 0), move |r, s| {
        assert_eq!(s, "owned");
        c(r)
    })
    .unwrap();
    let c = count(&written);
    let part = vec![1u8, 2, 3, 4].slice(1..3);
    h.queue(ops::Write::new(&null, part, 0), move |r, part| {
        assert_eq!(part.into_inner(), vec![1, 2, 3, 4]);
        c(r)
    })
    .unwrap();
    reactor.run().unwrap();
    assert_eq!(written.get(), 6 + 3 + 5 + 2);
}
