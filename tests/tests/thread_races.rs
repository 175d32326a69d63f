//! Patterns of the public API whose state crosses threads many times over,
//! each round a chance for two threads to meet on the library's memory:
//! reactor tasks (and the future of `run_until`) woken from other threads
//! round after round, each wake racing the reactor's park, and one scope
//! shared by threads through a mutex, the completions its holder reads
//! handed to the thread whose op they end. Each test asserts what the
//! kernel did (the bytes it moved, in order); tests/scripts/tsan.sh runs
//! them under ThreadSanitizer, which checks every crossing.

use std::future::Future;
use std::io::{Read as _, Write as _};
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::sync::{Arc, Mutex, mpsc};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::Duration;

use uring::Ring;
use uring::ops::Read;
use uring::reactor::ops::Send as SendOp;
use uring::reactor::{Handle, Reactor, SharedFd};
use uring_tests::net::assert_kernel_bytes;
use uring_tests::watchdog;

/// A bell rung from another thread: a count of rings, and the waker of the
/// future that waits for the next one.
#[derive(Default)]
struct Bell {
    state: Mutex<(u32, Option<Waker>)>,
}

impl Bell {
    /// Rings once, waking the waiting future (outside the lock).
    fn ring(&self) {
        let waker = {
            let mut state = self.state.lock().unwrap();
            state.0 += 1;
            state.1.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// A future that resolves once the bell has rung `count` times.
    fn rung(&self, count: u32) -> Rung<'_> {
        Rung { bell: self, count }
    }
}

struct Rung<'a> {
    bell: &'a Bell,
    count: u32,
}

impl Future for Rung<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.bell.state.lock().unwrap();
        if state.0 >= self.count {
            return Poll::Ready(());
        }
        state.1 = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// Rounds of each participant of the reactor test.
const WAKE_ROUNDS: u32 = 200;

/// One participant: for each round, waits for its bell (rung by its thread
/// once the previous round was acknowledged), sends the round's
/// record `[who, round]` on its socket through the reactor, and
/// acknowledges the round once the kernel has sent it.
async fn answer_bells(
    handle: Handle,
    who: u8,
    bell: Arc<Bell>,
    fd: SharedFd,
    ack: mpsc::Sender<u32>,
) {
    for round in 0..WAKE_ROUNDS {
        bell.rung(round + 1).await;
        let record = vec![who, round as u8];
        let (res, back) = handle.op(SendOp::new(&fd, record)).await;
        assert_eq!(
            res.unwrap(),
            2,
            "participant {who}, round {round}: the whole record sent"
        );
        assert_eq!(back, [who, round as u8], "the buffer comes back as it was");
        ack.send(round).unwrap();
    }
}

/// Three spawned tasks and the future of `run_until` each wait, round after
/// round, for a wake from a thread of their own, which rings again once
/// the previous round's send completed: at once, after a yield, or after a
/// pause in which the reactor parks. So the wakes reach the reactor while
/// it polls, while it reaps, and while it waits in the kernel (the wake
/// then ends the wait through the executor's eventfd). No wake is
/// lost (the run would hang), and the kernel sent every participant's
/// records, each once and in order.
#[test]
fn tasks_woken_from_other_threads_round_after_round_send_every_record() {
    let _watch = watchdog();
    const PARTICIPANTS: u8 = 4;
    let reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    let mut peers = Vec::new();
    let mut ringers = Vec::new();
    let mut futures = Vec::new();
    for who in 0..PARTICIPANTS {
        let (ours, peer) = UnixStream::pair().unwrap();
        peers.push(peer);
        let bell = Arc::new(Bell::default());
        let (ack, acks) = mpsc::channel::<u32>();
        let ringer_bell = Arc::clone(&bell);
        ringers.push(thread::spawn(move || {
            for round in 0..WAKE_ROUNDS {
                // Rung at once, a little later, or after the reactor has
                // had time to park: wakes land in every phase of its loop.
                match round % 3 {
                    0 => {}
                    1 => thread::yield_now(),
                    _ => thread::sleep(Duration::from_micros(300)),
                }
                ringer_bell.ring();
                assert_eq!(acks.recv().unwrap(), round, "rounds acknowledged in order");
            }
        }));
        futures.push(answer_bells(
            handle.clone(),
            who,
            bell,
            SharedFd::new(ours),
            ack,
        ));
    }
    let main = futures.remove(0);
    for task in futures {
        handle.spawn(task);
    }
    // The first participant is the future of `run_until` (woken through
    // its own flag); the others are tasks, which `run` finishes.
    reactor.run_until(main).unwrap();
    reactor.run().unwrap();
    for ringer in ringers {
        ringer.join().unwrap();
    }
    drop(handle);
    drop(reactor);
    for (who, mut peer) in peers.into_iter().enumerate() {
        // The reactor's drop closed our end: the peer reads to the end.
        let mut got = Vec::new();
        peer.read_to_end(&mut got).unwrap();
        let want: Vec<u8> = (0..WAKE_ROUNDS)
            .flat_map(|r| [who as u8, r as u8])
            .collect();
        assert_eq!(got, want, "participant {who}: every record once, in order");
    }
}

/// Rounds of each thread of the shared-scope test.
const SCOPE_ROUNDS: u64 = 150;

/// The 8 bytes thread `who` sends itself for `round`.
fn record(who: usize, round: u64) -> [u8; 8] {
    (round << 8 | who as u64).to_le_bytes()
}

/// Two threads share one scope through a mutex (a `&mut Scope` is `Send`).
/// Each round, a thread writes a record into its socket, pushes a read of
/// it into an owned buffer of its own, and, while it holds the scope,
/// reads whatever completions are there, its own or the other's, and hands
/// each to the thread whose op it ends. So the scope's table, the owned
/// buffers it keeps and the completions it gives back all cross between
/// the threads. Each thread gets its own buffer back, the same allocation,
/// holding exactly the record the kernel read for that round.
#[test]
fn one_scope_shared_through_a_mutex_hands_each_thread_its_reads() {
    let _watch = watchdog();
    const THREADS: usize = 2;
    let sockets: Vec<(UnixStream, UnixStream)> =
        (0..THREADS).map(|_| UnixStream::pair().unwrap()).collect();
    let mut ring = Ring::new(8).unwrap();
    ring.scope(|s| {
        let shared = Mutex::new(s);
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..THREADS).map(|_| mpsc::channel()).unzip();
        thread::scope(|t| {
            for (who, mine) in receivers.into_iter().enumerate() {
                let shared = &shared;
                let senders = &senders;
                let (writer, reader) = &sockets[who];
                t.spawn(move || {
                    let mut buf = vec![0u8; 16];
                    for round in 0..SCOPE_ROUNDS {
                        let want = record(who, round);
                        (&*writer).write_all(&want).unwrap();
                        let tag = (who as u64) << 32 | round;
                        let at = buf.as_ptr();
                        let mut cqe = {
                            let mut s = shared.lock().unwrap();
                            s.push_owned(buf, |bytes, sq| {
                                sq.push(Read::new(reader, &mut bytes[..8]).user_data(tag));
                            })
                            .unwrap();
                            s.submit().unwrap();
                            drop(s);
                            loop {
                                if let Ok(cqe) = mine.try_recv() {
                                    break cqe;
                                }
                                let mut s = shared.lock().unwrap();
                                // Forwarded while this thread waited for
                                // the lock: every completion is read and
                                // handed on under it.
                                if let Ok(cqe) = mine.try_recv() {
                                    break cqe;
                                }
                                // Not read yet, so still in flight or in
                                // the CQ: the wait ends.
                                s.submit_and_wait(1).unwrap();
                                for cqe in s.completions() {
                                    let owner = (cqe.user_data() >> 32) as usize;
                                    senders[owner].send(cqe).unwrap();
                                }
                            }
                        };
                        assert_eq!(cqe.user_data(), tag, "thread {who}: its own read");
                        assert_eq!(
                            cqe.res(),
                            8,
                            "thread {who}, round {round}: the whole record"
                        );
                        buf = cqe
                            .take_buf()
                            .expect("the buffer, back with the read's completion");
                        assert_eq!(buf.as_ptr(), at, "the same allocation");
                        assert_kernel_bytes(&buf[..8], &want, "the record the kernel read");
                    }
                });
            }
        });
        let s = shared.into_inner().unwrap();
        assert_eq!(s.in_flight(), 0, "every read settled");
    });
}
