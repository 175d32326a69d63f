//! `Scope::push_claimed`: a buffer a receive selected from a `BufRing`,
//! claimed, and lent as it is to the scope's next ops (an echo without a
//! copy). The scope holds the buffer until the last completion of those
//! ops and then gives it back to its ring, once; a push that does not
//! happen hands the `Buf` back.

use std::io::{ErrorKind, Read as _, Write as _};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use uring::ops::{Nop, Read, Recv, Send};
use uring::{BufRing, PushErrorKind, Ring};
use uring_tests::{incremental_buf_ring, plain_buf_ring};

const GROUP: u16 = 7;

/// Receives into every buffer of `pool` at once (a fresh socket pair per
/// receive, one byte each) and one receive more: the ring must hand out
/// exactly `count` different buffers, each with its byte, and then have
/// none (`ENOBUFS`). Proves that no buffer is lost or still lent.
fn assert_whole(ring: &mut Ring, pool: &BufRing, count: u16, what: &str) {
    let pairs: Vec<(UnixStream, UnixStream)> =
        (0..=count).map(|_| UnixStream::pair().unwrap()).collect();
    ring.scope(|s| {
        for (i, (tx, rx)) in pairs.iter().enumerate() {
            (&*tx).write_all(&[i as u8 ^ 0x3C]).unwrap();
            s.push(Recv::new(rx, pool.select()).user_data(i as u64))
                .unwrap();
        }
        s.submit_and_wait(u32::from(count) + 1).unwrap();
        let mut held = Vec::new();
        let mut none_left = 0;
        for mut cqe in s.completions() {
            if cqe.res() == -libc::ENOBUFS {
                none_left += 1;
                continue;
            }
            assert_eq!(cqe.res(), 1, "{what}: receive {}", cqe.user_data());
            let byte = cqe.user_data() as u8 ^ 0x3C;
            let buf = pool.claim(&mut cqe).unwrap();
            assert_eq!(&buf[..], &[byte], "{what}");
            held.push(buf);
        }
        let mut bids: Vec<u16> = held.iter().map(|b| b.bid()).collect();
        bids.sort_unstable();
        bids.dedup();
        assert_eq!(bids.len(), usize::from(count), "{what}: buffers held");
        assert_eq!(none_left, 1, "{what}: one receive more than buffers");
    });
}

/// Pushes a receive of `rx` into `pool`, waits for it and claims its
/// buffer (a macro: the receive borrows `rx` for the scope's lifetime).
macro_rules! received {
    ($s:expr, $rx:expr, $pool:expr) => {{
        $s.push(Recv::new($rx, $pool.select()).user_data(0x5EC5))
            .unwrap();
        $s.submit_and_wait(1).unwrap();
        let mut cqe = $s.completions().next().expect("the receive");
        assert_eq!(cqe.user_data(), 0x5EC5);
        assert!(cqe.res() > 0, "receive: {}", cqe.res());
        $pool.claim(&mut cqe).unwrap()
    }};
}

#[test]
fn a_received_buffer_goes_back_out_as_it_is() {
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, GROUP, 2, 64) else {
        return;
    };
    let (mut client, server) = UnixStream::pair().unwrap();
    client.write_all(b"echo me, unchanged").unwrap();
    ring.scope(|s| {
        let buf = received!(s, &server, pool);
        let at = buf.as_ptr();
        s.push_claimed(buf, |bytes, sq| {
            // The send's bytes are the ring's buffer itself: no copy.
            assert_eq!(bytes.as_ptr(), at);
            assert_eq!(&bytes[..], b"echo me, unchanged");
            sq.push(Send::new(&server, bytes).user_data(2));
        })
        .unwrap();
        assert_eq!(s.in_flight(), 1);
        s.submit_and_wait(1).unwrap();
        let mut cqes: Vec<uring::ScopeCqe<'_>> = s.completions().collect();
        assert_eq!(cqes.len(), 1, "one completion");
        assert_eq!((cqes[0].user_data(), cqes[0].res()), (2, 18));
        assert!(cqes[0].take_buf().is_none(), "no vector comes back");
        assert_eq!(s.in_flight(), 0);
        // The buffer went back to the ring: the next receive may get it.
        client.write_all(b"again").unwrap();
        let next = received!(s, &server, pool);
        assert_eq!(&next[..], b"again");
    });
    assert_eq!(
        uring_tests::read_exactly(&client, 18),
        b"echo me, unchanged"
    );
    assert_whole(&mut ring, &pool, 2, "after the echo");
}

#[test]
fn the_buffer_stays_lent_until_the_send_completes() {
    let mut ring = Ring::new(16).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, GROUP, 1, 64) else {
        return;
    };
    let (client, server) = UnixStream::pair().unwrap();
    let (other_tx, other_rx) = UnixStream::pair().unwrap();
    (&client).write_all(b"0123456789").unwrap();
    let filled = uring_tests::fill_unix_send_side(&server);
    ring.scope(|s| {
        let buf = received!(s, &server, pool);
        // The send waits: the server's socket is full.
        s.push_claimed(buf, |bytes, sq| {
            sq.push(Send::new(&server, bytes).user_data(2))
        })
        .unwrap();
        s.submit().unwrap();
        // The ring's only buffer is the send's: another receive finds none.
        (&other_tx).write_all(b"x").unwrap();
        s.push(Recv::new(&other_rx, pool.select()).user_data(3))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let cqe = s.completions().next().unwrap();
        assert_eq!((cqe.user_data(), cqe.res()), (3, -libc::ENOBUFS));
        assert_eq!(s.in_flight(), 1, "the send is still in flight");
        // Make room: the send completes, and gives the buffer back.
        let drained = uring_tests::read_exactly(&client, filled);
        assert!(drained.iter().all(|&b| b == 0xEE));
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut sent = None;
        while sent.is_none() {
            assert!(Instant::now() < deadline, "the send never completed");
            s.submit().unwrap();
            let _ = s.wait_timeout(1, Duration::from_millis(10));
            for cqe in s.completions() {
                assert_eq!(cqe.user_data(), 2);
                sent = Some(cqe.res());
            }
        }
        assert_eq!(sent, Some(10));
        let again = received!(s, &other_rx, pool);
        assert_eq!(&again[..], b"x", "the buffer came back to the ring");
    });
    assert_eq!(uring_tests::read_exactly(&client, 10), b"0123456789");
    assert_whole(&mut ring, &pool, 1, "after the send");
}

#[test]
fn a_push_that_does_not_happen_hands_the_buf_back() {
    let mut ring = Ring::new(4).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, GROUP, 2, 64) else {
        return;
    };
    let (mut client, server) = UnixStream::pair().unwrap();
    client.write_all(b"kept").unwrap();
    ring.scope(|s| {
        let buf = received!(s, &server, pool);
        let bid = buf.bid();
        // The closure pushes nothing.
        let e = s.push_claimed(buf, |_, _| {}).unwrap_err();
        assert_eq!(e.kind(), PushErrorKind::NothingPushed);
        let buf = e.into_inner();
        assert_eq!((buf.bid(), &buf[..]), (bid, &b"kept"[..]));
        // A full SQ: the push is refused and the buffer comes back.
        while s.space_left() > 0 {
            s.push(Nop::new().user_data(9)).unwrap();
        }
        let e = s
            .push_claimed(buf, |bytes, sq| {
                sq.push(Send::new(&server, bytes).user_data(2))
            })
            .unwrap_err();
        assert_eq!(e.kind(), PushErrorKind::QueueFull);
        let buf = e.into_inner();
        assert_eq!((buf.bid(), &buf[..]), (bid, &b"kept"[..]));
        s.submit_and_wait(4).unwrap();
        assert_eq!(s.completions().count(), 4);
        // Given again once there is room, it goes out.
        s.push_claimed(buf, |bytes, sq| {
            sq.push(Send::new(&server, bytes).user_data(2))
        })
        .unwrap();
        s.submit_and_wait(1).unwrap();
        let cqe = s.completions().next().unwrap();
        assert_eq!((cqe.user_data(), cqe.res()), (2, 4));
    });
    assert_eq!(uring_tests::read_exactly(&client, 4), b"kept");
    assert_whole(&mut ring, &pool, 2, "after the refusals");
}

#[test]
fn a_chain_over_the_buffer_gives_it_back_after_its_last_completion() {
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, GROUP, 1, 64) else {
        return;
    };
    let (mut client, server) = UnixStream::pair().unwrap();
    let (other_tx, other_rx) = UnixStream::pair().unwrap();
    client.write_all(b"chained").unwrap();
    ring.scope(|s| {
        let buf = received!(s, &server, pool);
        // A receive into the claimed buffer, then a send of it.
        (&other_tx).write_all(b"CHAINED").unwrap();
        s.push_claimed(buf, |bytes, sq| {
            let (head, _) = bytes.split_at_mut(7);
            sq.push(
                Recv::new(&other_rx, &mut head[..])
                    .user_data(1)
                    .link(Nop::new().user_data(2)),
            )
        })
        .unwrap();
        s.submit_and_wait(2).unwrap();
        let got: Vec<(u64, i32)> = s.completions().map(|c| (c.user_data(), c.res())).collect();
        assert_eq!(got, [(1, 7), (2, 0)]);
        // The ring's one buffer is back, holding what the receive wrote.
        client.write_all(b"z").unwrap();
        let back = received!(s, &server, pool);
        assert_eq!(&back[..], b"z");
    });
    assert_whole(&mut ring, &pool, 1, "after the chain");
}

#[test]
fn a_read_into_a_claimed_buffer_writes_only_its_bytes() {
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, GROUP, 1, 64) else {
        return;
    };
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(&[0xAB; 64]).unwrap();
    let (mut client, server) = UnixStream::pair().unwrap();
    client.write_all(b"four").unwrap();
    ring.scope(|s| {
        let buf = received!(s, &server, pool);
        assert_eq!(buf.len(), 4);
        s.push_claimed(buf, |bytes, sq| {
            sq.push(Read::new(&file, bytes).offset(0).user_data(5))
        })
        .unwrap();
        s.submit_and_wait(1).unwrap();
        let cqe = s.completions().next().unwrap();
        // The read was given the four claimed bytes, not the whole buffer.
        assert_eq!((cqe.user_data(), cqe.res()), (5, 4));
    });
    assert_whole(&mut ring, &pool, 1, "after the read");
}

#[test]
fn claimed_parts_of_an_incremental_buffer_go_out_as_they_are() {
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = incremental_buf_ring(&mut ring, GROUP, 1, 64) else {
        return;
    };
    let (mut client, server) = UnixStream::pair().unwrap();
    let mut echoed = Vec::new();
    ring.scope(|s| {
        for part in [&b"first"[..], b"second", b"third!"] {
            client.write_all(part).unwrap();
            let buf = received!(s, &server, pool);
            assert_eq!(&buf[..], part);
            s.push_claimed(buf, |bytes, sq| {
                sq.push(Send::new(&server, bytes).user_data(2))
            })
            .unwrap();
            s.submit_and_wait(1).unwrap();
            let cqe = s.completions().next().unwrap();
            assert_eq!(cqe.res(), part.len() as i32);
            echoed.extend_from_slice(part);
        }
    });
    assert_eq!(uring_tests::read_exactly(&client, echoed.len()), echoed);
}

#[test]
fn a_panic_in_the_scope_gives_the_buffer_back_once_the_send_ends() {
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, GROUP, 2, 64) else {
        return;
    };
    let (client, server) = UnixStream::pair().unwrap();
    (&client).write_all(b"stuck").unwrap();
    let filled = uring_tests::fill_unix_send_side(&server);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        ring.scope(|s| {
            let buf = received!(s, &server, pool);
            s.push_claimed(buf, |bytes, sq| {
                sq.push(Send::new(&server, bytes).user_data(2))
            })
            .unwrap();
            s.submit().unwrap();
            panic!("the scope's closure panics with the send in flight");
        })
    }));
    assert!(r.is_err());
    // The scope cancelled the send and waited for it: nothing of it came.
    assert_eq!(uring_tests::read_exactly(&client, filled).len(), filled);
    client.set_nonblocking(true).unwrap();
    let mut rest = [0u8; 16];
    assert_eq!(
        (&client).read(&mut rest).map_err(|e| e.kind()),
        Err(ErrorKind::WouldBlock),
        "the cancelled send sent nothing"
    );
    assert_whole(&mut ring, &pool, 2, "after the panic");
}

#[test]
fn a_scope_moved_to_another_thread_leaves_the_buffer_lent() {
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, GROUP, 2, 64) else {
        return;
    };
    let (mut client, server) = UnixStream::pair().unwrap();
    client.write_all(b"moved").unwrap();
    ring.scope(|s| {
        let buf = received!(s, &server, pool);
        s.push_claimed(buf, |bytes, sq| {
            sq.push(Send::new(&server, bytes).user_data(2))
        })
        .unwrap();
        // The send completes, and is read, on another thread: a `BufRing`
        // is one thread's, so the buffer is not given back from there.
        std::thread::scope(|t| {
            t.spawn(|| {
                s.submit_and_wait(1).unwrap();
                let cqe = s.completions().next().unwrap();
                assert_eq!((cqe.user_data(), cqe.res()), (2, 5));
            });
        });
        assert_eq!(s.in_flight(), 0);
    });
    assert_eq!(uring_tests::read_exactly(&client, 5), b"moved");
    // One buffer of two is left.
    assert_whole(&mut ring, &pool, 1, "after the move");
}

#[test]
fn many_echoes_through_a_small_ring() {
    let mut ring = Ring::new(64).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, GROUP, 4, 32) else {
        return;
    };
    let pairs: Vec<(UnixStream, UnixStream)> =
        (0..8).map(|_| UnixStream::pair().unwrap()).collect();
    let rounds = 50;
    ring.scope(|s| {
        for round in 0..rounds {
            for (i, (client, _)) in pairs.iter().enumerate() {
                let msg = format!("{round:03}:{i}");
                (&*client).write_all(msg.as_bytes()).unwrap();
            }
            // Receive on every server end; echo each claimed buffer; a
            // receive that finds the ring empty is retried after the
            // echoes in flight complete.
            let mut pending: Vec<usize> = (0..pairs.len()).collect();
            let mut echoes = 0;
            while !pending.is_empty() || echoes > 0 {
                for &i in &pending {
                    s.push(Recv::new(&pairs[i].1, pool.select()).user_data(i as u64))
                        .unwrap();
                }
                pending.clear();
                let lent_at_push = echoes;
                let mut misses = 0;
                s.submit_and_wait(1).unwrap();
                let mut claimed = Vec::new();
                for mut cqe in s.completions() {
                    let ud = cqe.user_data();
                    if ud >= 100 {
                        assert_eq!(cqe.res(), 5, "echo {}", ud - 100);
                        echoes -= 1;
                    } else if cqe.res() == -libc::ENOBUFS {
                        pending.push(ud as usize);
                        misses += 1;
                    } else {
                        assert_eq!(cqe.res(), 5);
                        claimed.push((ud, pool.claim(&mut cqe).unwrap()));
                    }
                }
                // A receive finds no buffer only once the echoes in flight
                // and this round's receives hold all four: none is lost.
                if misses > 0 {
                    assert_eq!(lent_at_push + claimed.len(), 4, "a buffer lost");
                }
                for (ud, buf) in claimed {
                    let i = ud as usize;
                    s.push_claimed(buf, |bytes, sq| {
                        sq.push(Send::new(&pairs[i].1, bytes).user_data(100 + ud))
                    })
                    .unwrap();
                    echoes += 1;
                }
            }
            for (i, (client, _)) in pairs.iter().enumerate() {
                assert_eq!(
                    uring_tests::read_exactly(client, 5),
                    format!("{round:03}:{i}").as_bytes()
                );
            }
        }
    });
    assert_whole(&mut ring, &pool, 4, "after the echoes");
}

#[test]
fn the_buffer_is_back_when_the_scope_ends_right_after_the_completion() {
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, GROUP, 2, 64) else {
        return;
    };
    let (mut client, server) = UnixStream::pair().unwrap();
    client.write_all(b"last").unwrap();
    ring.scope(|s| {
        let buf = received!(s, &server, pool);
        s.push_claimed(buf, |bytes, sq| {
            sq.push(Send::new(&server, bytes).user_data(2))
        })
        .unwrap();
        s.submit_and_wait(1).unwrap();
        let cqe = s.completions().next().unwrap();
        assert_eq!((cqe.user_data(), cqe.res()), (2, 4));
        // No submit or wait after it: the scope's end gives it back.
    });
    assert_eq!(uring_tests::read_exactly(&client, 4), b"last");
    assert_whole(&mut ring, &pool, 2, "after the scope's end");
}

#[test]
fn a_build_closure_that_panics_gives_the_buffer_back() {
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, GROUP, 2, 64) else {
        return;
    };
    let (mut client, server) = UnixStream::pair().unwrap();
    client.write_all(b"boom").unwrap();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        ring.scope(|s| {
            let buf = received!(s, &server, pool);
            let _ = s.push_claimed(buf, |_, _| panic!("build panics before pushing"));
        })
    }));
    assert!(r.is_err());
    assert_whole(&mut ring, &pool, 2, "after the closure's panic");
}

#[test]
fn entries_reused_while_a_release_is_due_give_every_buffer_back_once() {
    let mut ring = Ring::new(16).unwrap();
    let Some(pool) = plain_buf_ring(&mut ring, GROUP, 2, 64) else {
        return;
    };
    let (mut client, server) = UnixStream::pair().unwrap();
    ring.scope(|s| {
        for round in 0..20u8 {
            client.write_all(&[round]).unwrap();
            let buf = received!(s, &server, pool);
            // One claimed buffer, then a vector, on the same entries,
            // with the claimed buffer's release still due between them.
            s.push_claimed(buf, |bytes, sq| {
                sq.push(Send::new(&server, bytes).user_data(2))
            })
            .unwrap();
            s.submit_and_wait(1).unwrap();
            assert_eq!(s.completions().next().unwrap().res(), 1);
            s.push_owned(vec![round; 3], |bytes, sq| {
                sq.push(Send::new(&server, bytes).user_data(3))
            })
            .unwrap();
            s.submit_and_wait(1).unwrap();
            let mut cqe = s.completions().next().unwrap();
            assert_eq!(cqe.res(), 3);
            assert_eq!(cqe.take_buf(), Some(vec![round; 3]));
        }
    });
    let mut want = Vec::new();
    for round in 0..20u8 {
        want.extend_from_slice(&[round; 4]);
    }
    assert_eq!(uring_tests::read_exactly(&client, want.len()), want);
    assert_whole(&mut ring, &pool, 2, "after the rounds");
}
