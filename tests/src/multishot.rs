//! What the attacks on multishot ops under a full CQ share: completions as
//! read, checks of their order, listeners with waiting clients.

use std::collections::{HashMap, HashSet};
use std::io::{ErrorKind, Read};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use uring::Scope;
use uring::sys::IORING_CQE_F_MORE;

/// One completion as read: `user_data`, result, flags.
pub type Seen = (u64, i32, u32);

/// `c` as a [`Seen`].
pub fn seen_of(c: &uring::Cqe) -> Seen {
    (c.user_data(), c.res(), c.flags())
}

/// Whether more completions of the op follow `s` (`IORING_CQE_F_MORE`).
pub fn has_more(s: &Seen) -> bool {
    s.2 & IORING_CQE_F_MORE != 0
}

/// Whether `seen` holds the last completion of `user_data`.
pub fn ended(seen: &[Seen], user_data: u64) -> bool {
    seen.iter().any(|s| s.0 == user_data && !has_more(s))
}

/// The last few entries of `seen`, for messages.
pub fn tail(seen: &[Seen]) -> &[Seen] {
    &seen[seen.len().saturating_sub(12)..]
}

/// Checks the contract on `seen`, completions in the order they were read:
/// no op has a completion after its last (the one without `F_MORE`), and
/// each op of `uds` has one last. Returns how many completions each op had.
pub fn assert_each_ends_last(
    seen: &[Seen],
    uds: impl IntoIterator<Item = u64>,
    what: &str,
) -> HashMap<u64, usize> {
    let mut done = HashSet::new();
    let mut counts = HashMap::new();
    for (i, s) in seen.iter().enumerate() {
        assert!(
            !done.contains(&s.0),
            "{what}: completion {i} of {} comes after its last: {:?}",
            s.0,
            &seen[i.saturating_sub(8)..(i + 4).min(seen.len())]
        );
        *counts.entry(s.0).or_insert(0usize) += 1;
        if !has_more(s) {
            done.insert(s.0);
        }
    }
    for ud in uds {
        assert!(
            done.contains(&ud),
            "{what}: op {ud} has no last completion: {:?}",
            tail(seen)
        );
    }
    counts
}

/// Enters the ring of `s` now and then for `ms` milliseconds without
/// reading a completion: a `defer_taskrun` ring runs its task work (and
/// so posts) only in its own enters.
pub fn enter_without_reading(s: &mut Scope<'_, '_>, ms: u64) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(ms) {
        let _ = s.get_events();
        std::thread::sleep(Duration::from_micros(300));
    }
}

/// A listener with `n` clients connected, each waiting in its accept
/// queue.
pub fn listener_with_clients(n: usize) -> (TcpListener, Vec<TcpStream>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let clients = (0..n).map(|_| TcpStream::connect(addr).unwrap()).collect();
    (listener, clients)
}

/// Whether the server end of `client`'s connection was closed (its read
/// sees the end of the stream or a reset) rather than left open (the read
/// times out after 100 ms).
pub fn peer_closed(client: &mut TcpStream) -> bool {
    client
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut b = [0u8; 1];
    loop {
        match client.read(&mut b) {
            Ok(0) => return true,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false;
            }
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return true,
            other => panic!("{other:?}"),
        }
    }
}
