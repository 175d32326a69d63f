//! The reactor's `Splice` and `Tee`: a file copied through a pipe at
//! offsets, a TCP stream relayed to another through a pipe, `tee`'s copy
//! that leaves the input whole, the end of an input, the kernel's errors
//! (neither side a pipe, an offset on a pipe), and a splice waiting on an
//! empty pipe that is dropped (cancelled in its worker, taking none of the
//! bytes written after).

use std::io::{self, Read as _, Write as _};
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use uring::SpliceFlags;
use uring::reactor::ops::{Splice, Tee};
use uring::reactor::{Reactor, SharedFd};
use uring_tests::{pattern, poll_once, run_for, watchdog};

fn errno<T>(r: &io::Result<T>) -> Option<i32> {
    r.as_ref().err().and_then(io::Error::raw_os_error)
}

fn pipe() -> (SharedFd, SharedFd) {
    let (r, w) = uring_tests::pipe();
    (SharedFd::new(r), SharedFd::new(w))
}

fn file_of(f: std::fs::File) -> SharedFd {
    SharedFd::new(OwnedFd::from(f))
}

/// 300 000 bytes of a file go through a pipe into another file, in
/// splices of at most the pipe's 64 KiB, each side at its own offset:
/// every byte lands where it should, and the files' positions stay at 0.
#[test]
fn a_file_copied_through_a_pipe_at_offsets() {
    let _watch = watchdog();
    let dir = tempfile::tempdir().unwrap();
    let data = pattern(300_000, 4);
    std::fs::write(dir.path().join("src"), &data).unwrap();
    let src = file_of(std::fs::File::open(dir.path().join("src")).unwrap());
    let dst = file_of(std::fs::File::create(dir.path().join("dst")).unwrap());
    let (r, w) = pipe();
    let reactor = Reactor::new().unwrap();
    let mut moved = 0u64;
    while moved < data.len() as u64 {
        let (n, ()) = reactor
            .run_until(reactor.op(Splice::new(&src, &w, 65536).offset_in(100 + moved)))
            .unwrap();
        let n = n.unwrap();
        if n == 0 {
            break;
        }
        let mut left = n;
        while left > 0 {
            let (m, ()) = reactor
                .run_until(reactor.op(Splice::new(&r, &dst, left).offset_out(7 + moved)))
                .unwrap();
            let m = m.unwrap();
            assert!(m > 0 && m <= left);
            left -= m;
            moved += u64::from(m);
        }
    }
    assert_eq!(moved, data.len() as u64 - 100, "stopped before the end");
    let got = std::fs::read(dir.path().join("dst")).unwrap();
    assert_eq!(&got[..7], &[0u8; 7]);
    assert_eq!(&got[7..], &data[100..]);
    // The offsets left the positions alone.
    let mut pos_src = std::fs::File::from(src.as_fd().try_clone_to_owned().unwrap());
    let mut first = [0u8; 4];
    pos_src.read_exact(&mut first).unwrap();
    assert_eq!(&first, &data[..4]);
    // At the end of the input: 0.
    let (n, ()) = reactor
        .run_until(reactor.op(Splice::new(&src, &w, 100).offset_in(data.len() as u64)))
        .unwrap();
    assert_eq!(n.unwrap(), 0);
}

/// A TCP stream relayed to another through a pipe, as a proxy does: bytes
/// from the first peer reach the second whole and in order.
#[test]
fn a_tcp_stream_relayed_through_a_pipe() {
    let _watch = watchdog();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client_a = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (from_a, _) = listener.accept().unwrap();
    let mut client_b = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (to_b, _) = listener.accept().unwrap();
    let from_a = SharedFd::new(OwnedFd::from(from_a));
    let to_b = SharedFd::new(OwnedFd::from(to_b));
    let data = pattern(200_000, 8);
    let sent = data.clone();
    let writer = std::thread::spawn(move || {
        client_a.write_all(&sent).unwrap();
        client_a.shutdown(std::net::Shutdown::Write).unwrap();
    });
    let reader = std::thread::spawn(move || {
        let mut got = Vec::new();
        client_b.read_to_end(&mut got).unwrap();
        got
    });
    let (r, w) = pipe();
    let reactor = Reactor::new().unwrap();
    reactor
        .run_until(async {
            loop {
                let (n, ()) = reactor.op(Splice::new(&from_a, &w, 65536)).await;
                let mut left = n.unwrap();
                if left == 0 {
                    break;
                }
                while left > 0 {
                    let (m, ()) = reactor.op(Splice::new(&r, &to_b, left)).await;
                    left -= m.unwrap();
                }
            }
        })
        .unwrap();
    writer.join().unwrap();
    // The relay's socket to b is shut for writing, which ends b's read.
    let fd = to_b.as_fd().try_clone_to_owned().unwrap();
    std::net::TcpStream::from(fd)
        .shutdown(std::net::Shutdown::Write)
        .unwrap();
    assert!(
        reader.join().unwrap() == data,
        "the relay lost or moved bytes"
    );
}

/// `Tee` copies a pipe's bytes to another pipe and leaves them in the
/// first; with the input empty and its write end open, `NONBLOCK` makes it
/// `EAGAIN`.
#[test]
fn tee_copies_and_leaves_the_input_whole() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let (ra, wa) = pipe();
    let (rb, wb) = pipe();
    std::fs::File::from(wa.as_fd().try_clone_to_owned().unwrap())
        .write_all(b"hello, tee")
        .unwrap();
    let (n, ()) = reactor
        .run_until(reactor.op(Tee::new(&ra, &wb, 64)))
        .unwrap();
    assert_eq!(n.unwrap(), 10);
    let mut a = [0u8; 10];
    std::fs::File::from(ra.as_fd().try_clone_to_owned().unwrap())
        .read_exact(&mut a)
        .unwrap();
    assert_eq!(&a, b"hello, tee", "tee consumed its input");
    let mut b = [0u8; 10];
    std::fs::File::from(rb.as_fd().try_clone_to_owned().unwrap())
        .read_exact(&mut b)
        .unwrap();
    assert_eq!(&b, b"hello, tee");
    let (n, ()) = reactor
        .run_until(reactor.op(Tee::new(&ra, &wb, 64).flags(SpliceFlags::NONBLOCK)))
        .unwrap();
    assert_eq!(errno(&n), Some(libc::EAGAIN));
}

/// The kernel's refusals come back as errors: neither side a pipe is
/// `EINVAL`; an offset on a pipe is `ESPIPE`.
#[test]
fn splices_the_kernel_refuses_are_error_values() {
    let _watch = watchdog();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a"), b"abc").unwrap();
    let a = file_of(std::fs::File::open(dir.path().join("a")).unwrap());
    let b = file_of(std::fs::File::create(dir.path().join("b")).unwrap());
    let reactor = Reactor::new().unwrap();
    let (n, ()) = reactor
        .run_until(reactor.op(Splice::new(&a, &b, 3)))
        .unwrap();
    assert_eq!(errno(&n), Some(libc::EINVAL));
    let (r, w) = pipe();
    let (n, ()) = reactor
        .run_until(reactor.op(Splice::new(&a, &w, 3).offset_out(0)))
        .unwrap();
    assert_eq!(errno(&n), Some(libc::ESPIPE));
    drop(w);
    let (n, ()) = reactor
        .run_until(reactor.op(Splice::new(&r, &b, 3).offset_in(0)))
        .unwrap();
    assert_eq!(errno(&n), Some(libc::ESPIPE));
}

/// A splice from an empty pipe waits in an io-wq worker; dropped, it is
/// cancelled there and ends, and bytes written after stay in the pipe.
#[test]
fn a_dropped_splice_waiting_on_an_empty_pipe_takes_nothing_after() {
    let _watch = watchdog();
    let dir = tempfile::tempdir().unwrap();
    let out = file_of(std::fs::File::create(dir.path().join("out")).unwrap());
    let (r, w) = pipe();
    let reactor = Reactor::new().unwrap();
    let mut splice = reactor.op(Splice::new(&r, &out, 100).offset_out(0));
    assert!(poll_once(&mut splice).is_pending());
    run_for(&reactor, 30);
    assert_eq!(reactor.in_flight(), 1, "the splice did not wait");
    drop(splice);
    assert!(
        uring_tests::reactor::drive_until(&reactor, Duration::from_secs(5), || reactor.in_flight()
            == 0),
        "the dropped splice never ended"
    );
    let mut w = std::fs::File::from(w.as_fd().try_clone_to_owned().unwrap());
    w.write_all(b"later").unwrap();
    run_for(&reactor, 20);
    let mut got = [0u8; 5];
    std::fs::File::from(r.as_fd().try_clone_to_owned().unwrap())
        .read_exact(&mut got)
        .unwrap();
    assert_eq!(&got, b"later");
    assert!(std::fs::read(dir.path().join("out")).unwrap().is_empty());
}
