//! NAPI busy polling's tracking strategies (`IORING_REGISTER_NAPI` with an
//! opcode, 6.13): the settings the kernel reports back, static NAPI ids
//! added and removed, and what the kernel refuses.

use std::os::fd::AsRawFd;
use std::time::Duration;

use uring::ops::Nop;
use uring::{Error, NapiSettings, NapiTracking, Ring};
use uring_tests::{require_kernel, skip, tcp_pair, watchdog};

/// An id above any `MIN_NAPI_ID` (`NR_CPUS + 1`) that no device here has.
const ID: u32 = 1 << 24;

fn settings(micros: u64, prefer: bool, tracking: NapiTracking) -> NapiSettings {
    NapiSettings {
        busy_poll: Duration::from_micros(micros),
        prefer_busy_poll: prefer,
        tracking,
    }
}

/// A ring with static NAPI tracking, or `None` (with the reason printed)
/// where the kernel has none.
fn static_ring() -> Option<Ring> {
    if !require_kernel(6, 13, "static NAPI tracking") {
        return None;
    }
    let mut ring = Ring::new(8).unwrap();
    match ring.register_napi_with(settings(20, false, NapiTracking::Static)) {
        Ok(before) => {
            assert_eq!(before, settings(0, false, NapiTracking::Inactive));
            Some(ring)
        }
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            skip("NAPI busy polling is not built into this kernel");
            None
        }
        Err(e) => panic!("register_napi_with: {e}"),
    }
}

fn errno(result: uring::Result<()>) -> i32 {
    match result {
        Err(e) => e
            .raw_os_error()
            .unwrap_or_else(|| panic!("not an errno: {e:?}")),
        Ok(()) => 0,
    }
}

#[test]
fn the_settings_in_force_come_back_with_their_tracking() {
    let Some(mut ring) = static_ring() else {
        return;
    };
    let before = ring
        .register_napi_with(settings(50, true, NapiTracking::Dynamic))
        .unwrap();
    assert_eq!(before, settings(20, false, NapiTracking::Static));
    // `register_napi` is dynamic tracking, and reports what was set.
    let before = ring.register_napi(Duration::from_micros(7), false).unwrap();
    assert_eq!(before, (Duration::from_micros(50), true));
    // The kernel keeps at most 10 ms of busy polling.
    ring.register_napi_with(settings(60_000, false, NapiTracking::Static))
        .unwrap();
    let before = ring
        .register_napi_with(settings(1, false, NapiTracking::Dynamic))
        .unwrap();
    assert_eq!(before, settings(10_000, false, NapiTracking::Static));
    // Unregistering reports the time and preference it ends (not the
    // tracking), and nothing once none is left.
    assert_eq!(
        ring.unregister_napi().unwrap(),
        (Duration::from_micros(1), false)
    );
    assert_eq!(ring.unregister_napi().unwrap(), (Duration::ZERO, false));
    let before = ring
        .register_napi_with(settings(1, false, NapiTracking::Dynamic))
        .unwrap();
    assert_eq!(before, settings(0, false, NapiTracking::Inactive));
}

#[test]
fn static_ids_are_added_once_and_removed_once() {
    let Some(mut ring) = static_ring() else {
        return;
    };
    ring.napi_add_id(ID).unwrap();
    assert_eq!(errno(ring.napi_add_id(ID)), libc::EEXIST);
    ring.napi_add_id(ID + 1).unwrap();
    ring.napi_del_id(ID).unwrap();
    assert_eq!(errno(ring.napi_del_id(ID)), libc::ENOENT);
    // Removed, it can be added again; the other is still there.
    ring.napi_add_id(ID).unwrap();
    assert_eq!(errno(ring.napi_add_id(ID + 1)), libc::EEXIST);
    // Registering the tracking again drops every id.
    ring.register_napi_with(settings(20, false, NapiTracking::Static))
        .unwrap();
    assert_eq!(errno(ring.napi_del_id(ID)), libc::ENOENT);
    assert_eq!(errno(ring.napi_del_id(ID + 1)), libc::ENOENT);
}

#[test]
fn ids_no_device_can_have_are_refused() {
    let Some(mut ring) = static_ring() else {
        return;
    };
    assert_eq!(errno(ring.napi_add_id(0)), libc::EINVAL);
    assert_eq!(errno(ring.napi_add_id(1)), libc::EINVAL);
    // A loopback socket has no NAPI instance: its id reads as 0.
    let (client, _server) = tcp_pair();
    let mut id = u32::MAX;
    let mut len = std::mem::size_of::<u32>() as libc::socklen_t;
    // SAFETY: `id` and `len` are valid for the kernel's writes of one u32.
    let got = unsafe {
        libc::getsockopt(
            client.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_INCOMING_NAPI_ID,
            (&raw mut id).cast(),
            &mut len,
        )
    };
    assert_eq!(got, 0, "{}", std::io::Error::last_os_error());
    assert_eq!(id, 0);
    assert_eq!(errno(ring.napi_add_id(id)), libc::EINVAL);
    assert_eq!(errno(ring.napi_del_id(ID)), libc::ENOENT);
}

#[test]
fn ids_are_refused_without_static_tracking() {
    if !require_kernel(6, 13, "static NAPI tracking") {
        return;
    }
    let mut ring = Ring::new(8).unwrap();
    // Inactive (a new ring), dynamic, and inactive again.
    assert_eq!(errno(ring.napi_add_id(ID)), libc::EINVAL);
    if let Err(e) = ring.register_napi(Duration::from_micros(20), false) {
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{e:?}");
        skip("NAPI busy polling is not built into this kernel");
        return;
    }
    assert_eq!(errno(ring.napi_add_id(ID)), libc::EINVAL);
    assert_eq!(errno(ring.napi_del_id(ID)), libc::EINVAL);
    ring.register_napi_with(settings(20, false, NapiTracking::Static))
        .unwrap();
    ring.napi_add_id(ID).unwrap();
    ring.unregister_napi().unwrap();
    assert_eq!(errno(ring.napi_del_id(ID)), libc::EINVAL);
}

#[test]
fn inactive_tracking_is_refused_before_the_kernel() {
    let mut ring = Ring::new(8).unwrap();
    let refused = ring.register_napi_with(settings(20, true, NapiTracking::Inactive));
    assert!(
        matches!(refused, Err(Error::InvalidArgument(_))),
        "{refused:?}"
    );
    // Nothing was registered: the settings in force are still none.
    match ring.register_napi(Duration::from_micros(1), false) {
        Ok(before) => assert_eq!(before, (Duration::ZERO, false)),
        Err(e) => assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{e:?}"),
    }
}

#[test]
fn iopoll_rings_refuse_every_napi_call() {
    if !require_kernel(6, 13, "static NAPI tracking") {
        return;
    }
    let mut ring = Ring::builder().iopoll().build(8).unwrap();
    let refused = ring.register_napi_with(settings(20, false, NapiTracking::Static));
    assert_eq!(refused.unwrap_err().raw_os_error(), Some(libc::EINVAL));
    assert_eq!(errno(ring.napi_add_id(ID)), libc::EINVAL);
    assert_eq!(errno(ring.napi_del_id(ID)), libc::EINVAL);
}

#[test]
fn waits_busy_poll_static_ids_and_still_end() {
    let _watch = watchdog();
    let Some(mut ring) = static_ring() else {
        return;
    };
    ring.napi_add_id(ID).unwrap();
    ring.push(Nop::new().user_data(7)).unwrap();
    ring.submit_and_wait(1).unwrap();
    let cqes: Vec<_> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    assert_eq!(cqes, [(7, 0)]);
    // A wait with nothing to come busy-polls, then times out as usual.
    let waited = ring.wait_timeout(1, Duration::from_millis(5));
    assert!(matches!(waited, Err(Error::TimedOut)), "{waited:?}");
    // Over a socket the ring's ops touch (its id is not tracked).
    let (client, server) = tcp_pair();
    let mut buf = [0u8; 3];
    {
        use std::io::Write as _;
        (&client).write_all(b"abc").unwrap();
    }
    ring.scope(|s| {
        s.push(uring::ops::Recv::new(&server, &mut buf).user_data(9))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let got: Vec<_> = s.completions().map(|c| (c.user_data(), c.res())).collect();
        assert_eq!(got, [(9, 3)]);
        Ok::<_, Error>(())
    })
    .unwrap();
    assert_eq!(&buf, b"abc");
}
