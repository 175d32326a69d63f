//! The README's code blocks and concrete claims, run against the kernel:
//! each block as a program would write it, and each claim that a call's
//! result can show.

use std::collections::HashSet;
use std::os::fd::AsFd;
use std::time::Duration;

use uring::ops::{Nop, Read, Write};
use uring::{Error, Ring};

/// The README's first block: a write and a read of a registered file,
/// linked, the read bounded by a link timeout, in a scope.
#[test]
fn first_block_writes_then_reads_through_a_slot() -> uring::Result<()> {
    let _watchdog = uring_tests::watchdog();
    let mut ring = Ring::new(64)?;
    let file = tempfile::tempfile().unwrap();
    let files = ring.register_files(&[file.as_fd()])?;
    let slot = files.get(0)?;
    let mut back = [0u8; 5];
    let mut seen = Vec::new();
    ring.scope(|s| -> uring::Result<()> {
        let chain = Write::new(slot, b"hello")
            .user_data(1)
            .link(Read::new(slot, &mut back[..]).user_data(2))
            .timeout(Duration::from_millis(100));
        s.push(chain)?;
        s.submit_and_wait(3)?;
        for cqe in s.completions() {
            seen.push((cqe.user_data(), cqe.res()));
        }
        Ok(())
    })?;
    uring_tests::net::assert_kernel_bytes(&back, b"hello", "the read");
    seen.sort_unstable();
    // The link timeout carries user_data 0 and is cancelled by the read.
    assert_eq!(seen, [(0, -libc::ECANCELED), (1, 5), (2, 5)]);
    Ok(())
}

/// The README's "Using it" block, as written.
#[test]
fn using_it_block_pushes_33_nops_and_times_out() -> uring::Result<()> {
    let _watchdog = uring_tests::watchdog();
    let mut ring = Ring::builder().cq_entries(1024).coop_taskrun().build(256)?;
    ring.push(Nop::new().user_data(1))?;
    let mut sq = ring.submission();
    for i in 0..32 {
        sq.push(Nop::new().user_data(i))?;
    }
    drop(sq);
    ring.submit_and_wait(33)?;
    let mut n = 0;
    for cqe in ring.completions() {
        assert_eq!(cqe.result().unwrap(), 0);
        n += 1;
    }
    assert_eq!(n, 33);
    assert!(matches!(
        ring.wait_timeout(1, Duration::from_millis(50)),
        Err(Error::TimedOut)
    ));
    Ok(())
}

/// The README's callback block: a multishot accept whose connections get a
/// multishot receive into the reactor's buffer ring, each buffer sent back
/// as it is; an op with a deadline that passes (`ECANCELED`); a cancel by
/// an id whose op is done (nothing cancelled).
#[test]
fn callback_block_echoes_through_a_buffer_ring() -> std::io::Result<()> {
    use std::cell::{Cell, RefCell};
    use std::io::{Read as _, Write as _};
    use std::rc::Rc;
    use std::time::Instant;
    use uring::BufferGroup;
    use uring::reactor::ops::{AcceptMulti, Recv, RecvMulti, Send};
    use uring::reactor::{Reactor, SharedFd};

    let _watchdog = uring_tests::watchdog();
    let mut rings = Ring::create_many(1, 64, 1, &Reactor::ring_builder())?;
    let ring = rings.pop().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let listener = SharedFd::new(listener);

    let reactor = Reactor::from_ring(ring)?;
    let group = reactor.register_buf_ring(BufferGroup::new(0), 4096, 2048)?;
    let h = reactor.handle();
    let ended = Rc::new(Cell::new(false));
    let ended_in = Rc::clone(&ended);
    let accept_end = Rc::new(Cell::new(None));
    let accept_end_in = Rc::clone(&accept_end);
    let accept = reactor.queue_multishot(AcceptMulti::new(&listener), move |conn| {
        // The README's block unwraps here; the accept's last item, once it
        // is cancelled (or the reactor shuts down), is an error.
        let conn = match conn {
            Ok(conn) => conn,
            Err(e) => return accept_end_in.set(e.raw_os_error()),
        };
        let fd = SharedFd::new(conn);
        let (h2, fd2) = (h.clone(), fd.clone());
        let ended = Rc::clone(&ended_in);
        h.queue_multishot(RecvMulti::new(&fd, group), move |buf| match buf {
            Ok(Some(buf)) => {
                h2.queue(Send::new(&fd2, buf), |sent, buf| {
                    assert_eq!(sent.unwrap() as usize, buf.len());
                })
                .unwrap();
            }
            Ok(None) => ended.set(true),
            Err(e) => panic!("receive: {e}"),
        })
        .unwrap();
    })?;

    // A receive on a socket nobody writes to, with a deadline in 20 ms.
    let (quiet, _peer) = uring_tests::tcp_pair();
    let quiet = SharedFd::new(quiet);
    let late = Rc::new(RefCell::new(None));
    let late_in = Rc::clone(&late);
    let id = reactor.queue_with_deadline(
        Recv::new(&quiet, vec![0; 16]),
        Instant::now() + Duration::from_millis(20),
        move |res, _| *late_in.borrow_mut() = Some(res.map_err(|e| e.raw_os_error())),
    )?;

    // The handshake completes in the kernel, and the bytes fit the socket
    // buffer: the client needs no thread of its own.
    let mut client = std::net::TcpStream::connect(addr)?;
    client.write_all(b"ping over the ring")?;
    client.shutdown(std::net::Shutdown::Write)?;
    client.set_nonblocking(true)?;
    let mut back = Vec::new();
    while late.borrow().is_none() || !ended.get() || back.len() < 18 {
        uring_tests::run_for(&reactor, 5);
        match client.read_to_end(&mut back) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    assert_eq!(*late.borrow(), Some(Err(Some(libc::ECANCELED))));
    assert!(!reactor.cancel(id)?, "a stale id cancels nothing");
    assert_eq!(back, b"ping over the ring");
    assert!(reactor.cancel(accept)?, "the accept is still in flight");
    reactor.run()?;
    assert_eq!(accept_end.get(), Some(libc::ECANCELED));
    assert_eq!(reactor.in_flight(), 0);
    Ok(())
}

/// The README's `Remote` block: a reactor on its own thread, an accept
/// queued through `execute`, then cancelled by its id from this thread;
/// `run` returns once the last `Remote` is dropped.
#[test]
fn remote_block_queues_and_cancels_from_another_thread() -> std::io::Result<()> {
    use uring::reactor::ops::Accept;
    use uring::reactor::{Reactor, SharedFd};

    if uring_tests::under_valgrind() {
        uring_tests::skip(
            "valgrind runs one thread at a time: this thread cannot send while the reactor's \
             waits in io_uring_enter",
        );
        return Ok(());
    }
    let _watchdog = uring_tests::watchdog();
    let ring = Ring::new(16)?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let (tx, rx) = std::sync::mpsc::channel();
    let (ids, id_rx) = std::sync::mpsc::channel();
    let (results, result_rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let reactor = Reactor::from_ring(ring)?;
        tx.send(reactor.remote()).unwrap();
        reactor.run()
    });
    let remote = rx.recv().unwrap();
    remote.execute(move |h| {
        let fd = SharedFd::new(listener);
        let id = h
            .queue(Accept::new(&fd), move |res, conn| {
                results
                    .send((res.map_err(|e| e.raw_os_error()), conn.is_some()))
                    .unwrap();
            })
            .unwrap();
        ids.send(id).unwrap();
    })?;
    remote.cancel(id_rx.recv().unwrap())?;
    assert_eq!(
        result_rx.recv().unwrap(),
        (Err(Some(libc::ECANCELED)), false)
    );
    drop(remote);
    thread.join().unwrap()?;
    Ok(())
}

/// The README's futures block on a tokio current-thread runtime: a read
/// through `Handle::op`, and a TCP echo whose received buffers (the ring's)
/// are written back as they are.
#[test]
fn tokio_block_echoes_ring_buffers() -> std::io::Result<()> {
    use std::io::Write as _;
    use uring::BufferGroup;
    use uring::net::{TcpListener, TcpStream};
    use uring::reactor::ops::Read;
    use uring::reactor::{Reactor, SharedFd};

    let _watchdog = uring_tests::watchdog();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async {
        let reactor = Reactor::new()?;
        let handle = reactor.handle();
        let group = reactor.register_buf_ring(BufferGroup::new(0), 64, 2048)?;
        tokio::task::spawn_local(reactor.into_tokio()?);

        let mut file = tempfile::tempfile()?;
        file.write_all(b"file bytes")?;
        let file = SharedFd::new(file);
        let (result, buf) = handle.op(Read::new(&file, vec![0; 4096], 0)).await;
        assert_eq!(result?, 10);
        uring_tests::net::assert_kernel_bytes(&buf[..10], b"file bytes", "the read");

        // The README's form: the listener is a temporary, and its
        // `Incoming` accepts on.
        let listener = TcpListener::bind_reuseport(&handle, "127.0.0.1:0".parse().unwrap())?;
        let addr = listener.local_addr()?;
        let mut incoming = listener.incoming();
        drop(listener);
        let client = tokio::task::spawn_local({
            let handle = handle.clone();
            async move {
                let c = TcpStream::connect(&handle, addr).await?;
                c.write_all(&b"echo me"[..]).await.0?;
                c.shutdown(std::net::Shutdown::Write).await?;
                let mut back = Vec::new();
                loop {
                    let (n, buf) = c.read(vec![0; 64]).await;
                    let n = n?;
                    if n == 0 {
                        return Ok::<_, std::io::Error>(back);
                    }
                    back.extend_from_slice(&buf[..n]);
                }
            }
        });
        let conn = incoming.next().await.unwrap();
        let echo = tokio::task::spawn_local(async move {
            let conn = conn?;
            let mut received = conn.recv_stream(group);
            while let Some(Ok(Some(buf))) = received.next().await {
                conn.write_all(buf).await.0?;
            }
            Ok::<_, std::io::Error>(())
        });
        echo.await.unwrap()?;
        let back = client.await.unwrap()?;
        uring_tests::net::assert_kernel_bytes(&back, b"echo me", "the echo");
        Ok(())
    })
}

/// "All 63 opcodes of Linux 6.18 are declared in `uring/src/ops.rs`" and
/// the go-uring table's "the other 74 ops of the table" beside the 14 it
/// names: 88 ops over 63 opcodes, every opcode below `IORING_OP_LAST`.
#[test]
fn the_op_table_has_88_ops_over_the_63_opcodes() {
    let ops = uring::ops::ALL;
    assert_eq!(ops.len(), 14 + 74);
    let codes: HashSet<u8> = ops.iter().map(|op| op.code).collect();
    assert_eq!(codes.len(), 63);
    assert_eq!(codes.len(), usize::from(uring::sys::IORING_OP_LAST));
    assert!(codes.iter().all(|&c| c < uring::sys::IORING_OP_LAST));
    let names: HashSet<&str> = ops.iter().map(|op| op.name).collect();
    assert_eq!(names.len(), ops.len(), "each op named once");
}

/// A storage engine's loop as the README describes it: a registered file
/// and one registered buffer region, 32 random 4 KiB `WriteFixed`s in
/// flight in a scope, a run-time chain of writes and an fsync (`Linked` of
/// `Either`), then 32 `ReadFixed`s that read back what was written.
#[test]
fn qd32_fixed_writes_a_write_fsync_chain_and_fixed_reads_round_trip() {
    use std::io::IoSliceMut;
    use uring::ops::{Fsync, ReadFixed, WriteFixed};
    use uring::{Either, Linked};
    use uring_tests::{aligned_blocks, block_bytes, net::assert_kernel_bytes, pattern};

    const QD: usize = 32;
    const BS: usize = 4096;
    let _watchdog = uring_tests::watchdog();
    let mut ring = Ring::new(64).unwrap();
    let probe = ring.probe().unwrap();
    if probe.require::<ReadFixed<'_>>().is_err() || probe.require::<WriteFixed<'_>>().is_err() {
        uring_tests::skip("no READ_FIXED / WRITE_FIXED");
        return;
    }
    let file = tempfile::tempfile().unwrap();
    file.set_len(66 * BS as u64).unwrap();
    let files = ring.register_files(&[file.as_fd()]).unwrap();
    let slot = files.get(0).unwrap();
    let mut mem = aligned_blocks(QD * BS);
    // SAFETY: `mem` is neither moved nor freed before the ring (and so its
    // registration) is dropped at the end of the test.
    let bufs = unsafe { ring.register_buffers(&[IoSliceMut::new(block_bytes(&mut mem))]) }.unwrap();
    let index = bufs.get(0).unwrap();
    // 32 distinct blocks of 64, in a scattered order.
    let offsets: Vec<u64> = (0..QD as u64).map(|i| (i * 37 % 64) * BS as u64).collect();

    for (i, block) in block_bytes(&mut mem).chunks_exact_mut(BS).enumerate() {
        block.copy_from_slice(&pattern(BS, i as u8));
    }
    let reap = |s: &mut uring::Scope<'_, '_>, n: usize| {
        let mut got = Vec::new();
        while got.len() < n {
            s.submit_and_wait(1).unwrap();
            got.extend(s.completions().map(|c| (c.user_data(), c.res())));
        }
        got.sort_unstable();
        got
    };
    let all_full: Vec<(u64, i32)> = (0..QD as u64).map(|i| (i, BS as i32)).collect();
    let written: &[u8] = block_bytes(&mut mem);
    ring.scope(|s| {
        for (i, block) in written.chunks_exact(BS).enumerate() {
            s.push(
                WriteFixed::new(slot, block, index)
                    .offset(offsets[i])
                    .user_data(i as u64),
            )
            .unwrap();
        }
        assert_eq!(reap(s, QD), all_full);

        // Two more writes (blocks 64 and 65) and an fsync, linked: the
        // fsync runs once both writes are done.
        let mut chain: Vec<_> = written[..2 * BS]
            .chunks_exact(BS)
            .enumerate()
            .map(|(i, b)| {
                Either::Left(
                    WriteFixed::new(slot, b, index)
                        .offset((64 + i as u64) * BS as u64)
                        .user_data(100 + i as u64),
                )
            })
            .collect();
        chain.push(Either::Right(Fsync::new(slot).user_data(102)));
        s.push_linked(Linked::new(chain)).unwrap();
        assert_eq!(reap(s, 3), [(100, BS as i32), (101, BS as i32), (102, 0)]);
    });

    block_bytes(&mut mem).fill(0);
    ring.scope(|s| {
        for (i, block) in block_bytes(&mut mem).chunks_exact_mut(BS).enumerate() {
            s.push(
                ReadFixed::new(slot, block, index)
                    .offset(offsets[i])
                    .user_data(i as u64),
            )
            .unwrap();
        }
        assert_eq!(reap(s, QD), all_full);
    });
    for (i, block) in block_bytes(&mut mem).chunks_exact(BS).enumerate() {
        assert_kernel_bytes(block, &pattern(BS, i as u8), "a fixed read");
    }
}
