//! Multishot ops through the reactor: streams and per-completion
//! callbacks; receives into a buffer ring, whose buffers go back when
//! dropped and can be sent as they are.

use std::cell::RefCell;
use std::io::{Read as _, Write as _};
use std::os::unix::net::UnixStream;
use std::rc::Rc;

use uring::reactor::ops::{AcceptMulti, PollMulti, RecvMulti, Send};
use uring::reactor::{Reactor, RingBuf, SharedFd};
use uring::{BufferGroup, PollEvents};
use uring_tests::skip;

fn pair() -> (SharedFd, UnixStream) {
    let (a, b) = UnixStream::pair().unwrap();
    (SharedFd::new(a), b)
}

#[test]
fn a_multishot_receive_streams_ring_buffers_that_go_back_when_dropped() {
    let reactor = Reactor::new().unwrap();
    let group = match reactor.register_buf_ring(BufferGroup::new(3), 4, 64) {
        Ok(g) => g,
        Err(e) => return skip(format_args!("buffer rings: {e}")),
    };
    assert!(
        reactor
            .register_buf_ring(BufferGroup::new(3), 4, 64)
            .is_err(),
        "a group is registered once"
    );
    let (fd, mut peer) = pair();
    let mut stream = reactor.stream(RecvMulti::new(&fd, group));
    let got = reactor
        .run_until(async {
            let mut got = Vec::new();
            for word in [&b"one"[..], b"two", b"three"] {
                peer.write_all(word).unwrap();
                let buf: RingBuf = stream.next().await.unwrap().unwrap().unwrap();
                got.push(buf.to_vec());
                // `buf` goes back to the ring here: four buffers serve any
                // number of receives.
            }
            for _ in 0..10 {
                peer.write_all(b"again").unwrap();
                let buf = stream.next().await.unwrap().unwrap().unwrap();
                assert_eq!(&buf[..], b"again");
            }
            drop(peer);
            // The end of the stream: Ok(None), then the stream ends.
            assert!(matches!(stream.next().await, Some(Ok(None))));
            assert!(stream.next().await.is_none());
            got
        })
        .unwrap();
    assert_eq!(got, [&b"one"[..], b"two", b"three"]);
}

#[test]
fn a_received_buffer_is_sent_back_as_it_is() {
    let reactor = Reactor::new().unwrap();
    let group = match reactor.register_buf_ring(BufferGroup::new(1), 2, 32) {
        Ok(g) => g,
        Err(e) => return skip(format_args!("buffer rings: {e}")),
    };
    let (fd, mut peer) = pair();
    let h = reactor.handle();
    let echoed = Rc::new(RefCell::new(0));
    let e = echoed.clone();
    let fd2 = fd.clone();
    reactor
        .queue_multishot(RecvMulti::new(&fd, group), move |item| {
            if let Ok(Some(buf)) = item {
                let e = e.clone();
                // The buffer goes to the send as it is, and back to its ring
                // when the send's callback drops it.
                h.queue(Send::new(&fd2, buf), move |r, buf| {
                    assert_eq!(r.unwrap() as usize, buf.len());
                    *e.borrow_mut() += buf.len();
                })
                .unwrap();
            }
        })
        .unwrap();
    reactor.submit().unwrap();
    let mut back = [0u8; 5];
    for i in 0..20u8 {
        let msg = [i; 5];
        peer.write_all(&msg).unwrap();
        while *echoed.borrow() < 5 * (usize::from(i) + 1) {
            let _ = reactor
                .run_until(reactor.op(uring::reactor::ops::Nop))
                .unwrap();
        }
        peer.read_exact(&mut back).unwrap();
        assert_eq!(back, msg);
    }
    drop(peer);
    reactor.run().unwrap();
}

#[test]
fn an_accept_stream_and_a_poll_callback() {
    let reactor = Reactor::new().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let lfd = SharedFd::new(listener);
    let mut accepts = reactor.stream(AcceptMulti::new(&lfd));
    let clients: Vec<_> = (0..5)
        .map(|_| std::net::TcpStream::connect(addr).unwrap())
        .collect();
    let accepted = reactor
        .run_until(async {
            let mut n = 0;
            while n < 5 {
                let fd = accepts.next().await.unwrap().unwrap();
                drop(fd);
                n += 1;
            }
            n
        })
        .unwrap();
    assert_eq!(accepted, 5);
    // Dropping the stream cancels the accept; connections that arrive in
    // between are closed with it.
    drop(accepts);
    drop(clients);

    let (fd, mut peer) = pair();
    let events = Rc::new(RefCell::new(Vec::new()));
    let ev = events.clone();
    let id = reactor
        .queue_multishot(PollMulti::new(&fd, PollEvents::IN), move |item| {
            ev.borrow_mut().push(item.map_err(|e| e.raw_os_error()))
        })
        .unwrap();
    reactor.submit().unwrap();
    peer.write_all(b"x").unwrap();
    while events.borrow().is_empty() {
        let _ = reactor
            .run_until(reactor.op(uring::reactor::ops::Nop))
            .unwrap();
    }
    assert!(reactor.cancel(id).unwrap());
    reactor.run().unwrap();
    let events = events.borrow();
    assert!(
        events[0].as_ref().unwrap().contains(PollEvents::IN),
        "{events:?}"
    );
    assert_eq!(events.last(), Some(&Err(Some(libc::ECANCELED))));
}

/// Sets its flag when dropped.
struct Dropped(Rc<std::cell::Cell<bool>>);

impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

#[test]
fn a_panicking_multishot_callback_leaks_its_value_and_hears_nothing_more() {
    let reactor = Reactor::new().unwrap();
    let (fd, mut peer) = pair();
    let calls = Rc::new(std::cell::Cell::new(0));
    let dropped = Rc::new(std::cell::Cell::new(false));
    let (c, guard) = (calls.clone(), Dropped(dropped.clone()));
    let id = reactor
        .queue_multishot(PollMulti::new(&fd, PollEvents::IN), move |_| {
            let _keep = &guard;
            c.set(c.get() + 1);
            panic!("the multishot callback panics");
        })
        .unwrap();
    reactor.submit().unwrap();
    peer.write_all(b"x").unwrap();
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reactor.run()));
    assert!(
        run.is_err(),
        "the callback's panic reaches the caller of run"
    );
    assert_eq!(calls.get(), 1);
    // More events, then the cancel: the op's later completions reach no
    // callback, and its last one ends it.
    peer.write_all(b"y").unwrap();
    assert!(reactor.cancel(id).unwrap(), "the op is still in flight");
    reactor.run().unwrap();
    assert_eq!(reactor.in_flight(), 0);
    assert_eq!(calls.get(), 1, "no callback after the panic");
    assert!(!dropped.get(), "the value is leaked, not dropped");
    // The reactor goes on.
    let (result, ()) = reactor
        .run_until(reactor.op(uring::reactor::ops::Nop))
        .unwrap();
    assert_eq!(result.unwrap(), 0);
}

#[test]
fn a_multishot_callback_that_shuts_the_reactor_down_gets_every_item_after() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let fd = SharedFd::new(listener);
    // Three connections wait before the accept starts: its first
    // completions come together.
    let clients: Vec<_> = (0..3)
        .map(|_| std::net::TcpStream::connect(addr).unwrap())
        .collect();
    let handle = reactor.handle();
    let items = Rc::new(RefCell::new(Vec::new()));
    let it = items.clone();
    let dropped = Rc::new(std::cell::Cell::new(false));
    let guard = Dropped(dropped.clone());
    reactor
        .queue_multishot(AcceptMulti::new(&fd), move |item| {
            let _keep = &guard;
            let first = it.borrow().is_empty();
            it.borrow_mut().push(item.map_err(|e| e.raw_os_error()));
            if first {
                // Reads the other completions while this callback runs.
                handle.shutdown();
                assert_eq!(handle.in_flight(), 0);
            }
        })
        .unwrap();
    reactor.run().unwrap();
    let items = std::mem::take(&mut *items.borrow_mut());
    // Every connection was accepted and handed over, then the cancel's
    // last completion; none was lost while the first callback ran.
    let accepted: Vec<_> = items.iter().filter_map(|i| i.as_ref().ok()).collect();
    assert_eq!(accepted.len(), 3, "{items:?}");
    for fd in &accepted {
        let peer = uring_tests::local_addr(std::os::fd::AsFd::as_fd(*fd)).unwrap();
        assert_eq!(peer, addr);
    }
    assert_eq!(
        items.last().unwrap().as_ref().err(),
        Some(&Some(libc::ECANCELED))
    );
    assert!(
        dropped.get(),
        "the op's value is dropped after its last item"
    );
    drop(clients);
}
