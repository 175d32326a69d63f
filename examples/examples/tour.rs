//! A guided run: a ring at work on a temp file and a loopback socket, with a
//! line for what each step did.
//!
//! `cargo run --release --example tour`

use std::io::{IoSlice, IoSliceMut};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use uring::ops::{
    Accept, Close, Connect, LinkTimeout, Nop, ProvideBuffers, Read, ReadV, Recv, Send, Timeout,
    Write, WriteV,
};
use uring::{
    BufferGroup, BufferPool, Cqe, Error, Features, Ring, Scoped, SockAddr, SockAddrBuf, Submission,
};

fn main() -> ExitCode {
    match tour() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tour: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Pushes `submission`, submits it and waits for all its completions,
/// returned sorted by `user_data`.
///
/// The submission may borrow buffers of the caller: a scope lends them to
/// the kernel and does not return (or unwind) before the kernel is done
/// with them.
fn complete<'r, S>(ring: &'r mut Ring, submission: S) -> uring::Result<Vec<Cqe>>
where
    S: Submission + Scoped + 'r,
{
    let n = S::SQES;
    ring.scope(|s| {
        s.push(submission)?;
        s.submit_and_wait(n)?;
        let mut done: Vec<Cqe> = s.completions().take(n as usize).collect();
        done.sort_by_key(|c| c.user_data());
        Ok(done)
    })
}

fn show(what: &str, cqes: &[Cqe]) {
    let parts: Vec<String> = cqes
        .iter()
        .map(|c| match c.result() {
            Ok(v) => format!("#{} -> {v}", c.user_data()),
            Err(e) => format!("#{} -> {e}", c.user_data()),
        })
        .collect();
    println!("  {what}: {}", parts.join(", "));
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn sqes<S: Submission>(_: &S) -> u32 {
    S::SQES
}

fn tour() -> Result<()> {
    println!("1. A ring of 64 entries");
    let mut ring = Ring::new(64)?;
    let p = ring.params();
    println!(
        "  sq {} / cq {} entries; ext-arg waits: {}, no-drop CQ: {}",
        p.sq_entries(),
        p.cq_entries(),
        p.has(Features::EXT_ARG),
        p.has(Features::NODROP),
    );

    println!("2. What the kernel supports");
    let probe = ring.probe()?;
    let missing: Vec<&str> = probe.missing().map(|op| op.name).collect();
    println!(
        "  {} of {} ops in the table; missing: {}",
        uring::ops::ALL.len() - missing.len(),
        uring::ops::ALL.len(),
        if missing.is_empty() {
            "none".to_string()
        } else {
            missing.join(", ")
        }
    );

    println!("3. A temp file: write, then read it back");
    let file = tempfile::tempfile()?;
    let text = b"io_uring writes in place";
    let done = complete(&mut ring, Write::new(&file, text).user_data(1))?;
    show("write", &done);
    let mut back = [0u8; 24];
    let done = complete(&mut ring, Read::new(&file, &mut back[..]).user_data(2))?;
    show("read", &done);
    println!("  read back {:?}", String::from_utf8_lossy(&back));

    println!("4. Vectored: two buffers out at offset 100, three back in");
    let (a, b) = (b"split ".as_slice(), b"in two".as_slice());
    let out = [IoSlice::new(a), IoSlice::new(b)];
    let done = complete(
        &mut ring,
        WriteV::new(&file, &out[..]).offset(100).user_data(3),
    )?;
    show("writev", &done);
    let (mut x, mut y, mut z) = ([0u8; 4], [0u8; 4], [0u8; 4]);
    let mut into = [
        IoSliceMut::new(&mut x),
        IoSliceMut::new(&mut y),
        IoSliceMut::new(&mut z),
    ];
    let done = complete(
        &mut ring,
        ReadV::new(&file, &mut into[..]).offset(100).user_data(4),
    )?;
    show("readv", &done);
    println!(
        "  {:?} + {:?} + {:?}",
        String::from_utf8_lossy(&x),
        String::from_utf8_lossy(&y),
        String::from_utf8_lossy(&z)
    );

    println!("5. A registered file and a linked chain: write -> read, each on the fixed slot");
    let files = ring.register_files(&[file.as_fd()])?;
    let slot = files.get(0)?;
    let mut again = [0u8; 6];
    let chain = Write::new(slot, b"linked")
        .offset(200)
        .user_data(5)
        .link(Read::new(slot, &mut again[..]).offset(200).user_data(6));
    let done = complete(&mut ring, chain)?;
    show("write then read (IO_LINK set by .link)", &done);
    println!(
        "  read {:?} through fixed slot {}",
        String::from_utf8_lossy(&again),
        slot.index()
    );
    ring.unregister_files(files)?;

    println!("6. Timeouts: three of 30, 10 and 20 ms complete in time order");
    let start = Instant::now();
    ring.push(Timeout::new(Duration::from_millis(30)).user_data(30))?;
    ring.push(Timeout::new(Duration::from_millis(10)).user_data(10))?;
    ring.push(Timeout::new(Duration::from_millis(20)).user_data(20))?;
    ring.submit_and_wait(3)?;
    let order: Vec<u64> = ring.completions().map(|c| c.user_data()).collect();
    println!("  fired in order {order:?} after {:?}", start.elapsed());

    println!("7. A link timeout bounds a read from an empty pipe");
    let (rx, tx) = pipe()?;
    let mut nothing = [0u8; 8];
    let chain = Read::new(&rx, &mut nothing[..])
        .user_data(7)
        .link_timeout(LinkTimeout::new(Duration::from_millis(10)).user_data(8));
    let done = complete(&mut ring, chain)?;
    show("read, then its 10 ms link timeout", &done);
    // Close takes ownership: the descriptors are given up to the ring.
    let close = Close::new(rx)
        .user_data(9)
        .link(Close::new(tx).user_data(10));
    show("closing the pipe", &complete(&mut ring, close)?);

    println!("8. Loopback TCP: accept + connect, send + recv");
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = SockAddr::from(listener.local_addr()?);
    let client = socket_for(&addr)?;
    let mut peer = SockAddrBuf::new();
    // Two ops in one scope: `peer` and `addr` are lent until both complete.
    let done = ring.scope(|s| -> uring::Result<Vec<Cqe>> {
        s.push(Accept::new(&listener).peer(Some(&mut peer)).user_data(11))?;
        s.push(Connect::new(&client, &addr).user_data(12))?;
        let mut done: Vec<Cqe> = Vec::new();
        while s.in_flight() > 0 {
            s.submit_and_wait(1)?;
            done.extend(s.completions());
        }
        done.sort_by_key(|c| c.user_data());
        Ok(done)
    })?;
    show("accept, connect", &done);
    // SAFETY: the accept's result is a new descriptor nothing else owns.
    let accepted = unsafe { OwnedFd::from_raw_fd(done[0].result()? as i32) };
    println!("  the peer is {:?}", peer.socket_addr());
    let done = complete(&mut ring, Send::new(&client, b"ping").user_data(13))?;
    show("send", &done);
    let mut got = [0u8; 16];
    let done = complete(&mut ring, Recv::new(&accepted, &mut got[..]).user_data(14))?;
    show("recv", &done);
    println!("  received {:?}", String::from_utf8_lossy(&got[..4]));

    println!("9. Provided buffers: the kernel picks the buffer, the completion names it");
    // The kernel keeps provided buffers after ProvideBuffers completes, until
    // ops select them: they must live as long as the ring may use them.
    let pool: &'static mut [u8] = Box::leak(vec![0u8; 4 * 32].into_boxed_slice());
    let base = pool.as_ptr();
    let group = BufferGroup::new(1);
    // SAFETY: the pool is leaked: it stays allocated for as long as the
    // kernel may fill its buffers.
    unsafe {
        ring.push_unchecked(ProvideBuffers::new(BufferPool::new(pool, 32), group).user_data(15))
    }?;
    ring.submit_and_wait(1)?;
    let done: Vec<Cqe> = ring.completions().collect();
    show("provide 4 buffers of 32 bytes to group 1", &done);
    let done = complete(&mut ring, Send::new(&client, b"pong").user_data(16))?;
    show("send", &done);
    let done = complete(
        &mut ring,
        Recv::new(&accepted, group.select(32)).user_data(17),
    )?;
    show("recv selecting a buffer", &done);
    if let (Some(id), Ok(n)) = (done[0].buffer_id(), done[0].result()) {
        // SAFETY: the recv's completion hands buffer `id` back: the kernel
        // wrote its first `n` bytes and no op can select it again (it is not
        // provided again); the pool is leaked, so it stays allocated.
        let bytes =
            unsafe { std::slice::from_raw_parts(base.add(usize::from(id) * 32), n as usize) };
        println!("  buffer {id} holds {:?}", String::from_utf8_lossy(bytes));
    }
    show(
        "close",
        &complete(&mut ring, Close::new(accepted).user_data(18))?,
    );

    println!("10. Cancel an accept nobody will answer");
    // The accept borrows the listener, so it runs in a scope; the scope
    // finds it by the user_data it was given.
    let done = ring.scope(|s| -> uring::Result<Vec<Cqe>> {
        s.push(Accept::new(&listener).user_data(19))?;
        s.submit()?;
        s.cancel(19)?;
        let mut done: Vec<Cqe> = Vec::new();
        while s.in_flight() > 0 {
            s.submit_and_wait(1)?;
            done.extend(s.completions());
        }
        Ok(done)
    })?;
    show("accept, cancelled", &done);

    println!("11. An idle wait with a timeout");
    let start = Instant::now();
    match ring.wait_timeout(1, Duration::from_millis(50)) {
        Err(Error::TimedOut) => println!(
            "  timed out after {:?}, no timeout SQE used",
            start.elapsed()
        ),
        other => println!("  unexpected: {other:?}"),
    }

    println!("12. Chains in one push, all or nothing");
    let chain = Nop::new()
        .user_data(21)
        .hard_link(Nop::new().user_data(22))
        .link(Nop::new().user_data(23))
        .timeout(Duration::from_secs(1));
    println!("  a chain of {} SQEs", sqes(&chain));
    let mut small = Ring::new(2)?;
    match small.push(chain) {
        Err(full) => {
            println!("  a ring of 2 hands it back whole: {full}");
            let done = complete(&mut ring, full.into_inner())?;
            show("pushed on the big ring instead", &done);
        }
        Ok(()) => println!("  unexpected: it fit"),
    }
    println!("done.");
    Ok(())
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2(2) returns.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    // SAFETY: both descriptors are new and owned by nothing else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn socket_for(addr: &SockAddr) -> Result<TcpStream> {
    // A blocking socket, not yet connected: the ring connects it.
    let std_addr = addr.as_socket_addr().ok_or("not an IP address")?;
    let domain = if std_addr.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    // SAFETY: socket(2) with constant arguments; the result is checked.
    let fd = unsafe { libc::socket(domain, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    // SAFETY: `fd` is a fresh socket this function owns.
    Ok(unsafe { TcpStream::from_raw_fd(fd) })
}
