//! Memory a scope hands back is freed exactly once: an owned buffer that
//! comes back with a completion nobody takes it from is dropped with the
//! completion, not leaked. Counted by a global allocator of this binary's
//! own, so each case runs on one thread with the others serialised (the
//! harness's own threads still allocate meanwhile: the bounds are half the
//! buffer's size).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicIsize, Ordering};

use uring::Cqe;
use uring::Ring;
use uring::ops::Nop;

/// Counts the bytes allocated and not yet freed.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded to `System` unchanged; only a counter is
// kept beside it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is `System`'s.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: as for `alloc`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// One case at a time: the counter is the process's.
static SERIAL: Mutex<()> = Mutex::new(());

/// The buffer each case gives the scope: big enough that nothing else the
/// case allocates could hide it.
const BIG: usize = 4 << 20;

/// Runs `case` on a ring made beforehand and returns the bytes it left
/// allocated.
fn left_allocated(case: impl FnOnce(&mut Ring)) -> isize {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // A first panic fills the process's caches (a backtrace's symbols,
    // with RUST_BACKTRACE set), which stay: it happens here, under the
    // lock, before any case measures one.
    static WARM: std::sync::Once = std::sync::Once::new();
    WARM.call_once(|| {
        let first = std::panic::catch_unwind(|| panic!("warming up the panic machinery"));
        assert!(first.is_err());
    });
    let mut ring = Ring::new(8).unwrap();
    // A first scope sizes the ring's scope table, kept between scopes.
    ring.scope(|s| {
        s.push_owned(vec![0; 1], |_, sq| sq.push(Nop::new()))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        s.completions().for_each(drop);
    });
    let before = LIVE.load(Ordering::Relaxed);
    case(&mut ring);
    LIVE.load(Ordering::Relaxed) - before
}

/// Pushes a NOP over a buffer of `BIG` bytes and waits for it.
fn push_big(s: &mut uring::Scope<'_, '_>) {
    s.push_owned(vec![7u8; BIG], |_, sq| sq.push(Nop::new().user_data(1)))
        .unwrap();
    s.submit_and_wait(1).unwrap();
}

#[test]
fn a_returned_buffer_nobody_takes_is_freed_with_its_completion() {
    let left = left_allocated(|ring| {
        ring.scope(|s| {
            push_big(s);
            let cqe = s.completions().next().unwrap();
            assert_eq!(cqe.user_data(), 1);
            drop(cqe);
            assert_eq!(s.in_flight(), 0);
        });
    });
    assert!(left < (BIG / 2) as isize, "{left} bytes leaked");
}

#[test]
fn a_returned_buffer_is_freed_when_its_completion_becomes_a_cqe() {
    let left = left_allocated(|ring| {
        let cqes: Vec<Cqe> = ring.scope(|s| {
            push_big(s);
            s.completions().collect()
        });
        assert_eq!(cqes.len(), 1);
    });
    assert!(left < (BIG / 2) as isize, "{left} bytes leaked");
}

#[test]
fn a_taken_buffer_belongs_to_the_taker() {
    let mut kept = None;
    let left = left_allocated(|ring| {
        ring.scope(|s| {
            push_big(s);
            let mut cqe = s.completions().next().unwrap();
            let buf = cqe.take_buf().expect("the buffer comes back");
            assert_eq!((buf.len(), buf[0]), (BIG, 7));
            assert!(cqe.take_buf().is_none(), "taken once");
            drop(cqe);
            kept = Some(buf);
        });
    });
    // Half the buffer's size either way, as in the other cases: the
    // counter is the process's, and the test harness's other threads
    // allocate and free a few hundred bytes now and then.
    assert!(
        left > (BIG / 2) as isize,
        "the taken buffer is still allocated: {left}"
    );
    drop(kept);
}

#[test]
fn a_buffer_kept_by_a_panicking_push_owned_is_freed_when_the_scope_ends() {
    let left = left_allocated(|ring| {
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            ring.scope(|s| {
                let _ = s.push_owned(vec![7u8; BIG], |_, _| panic!("the op cannot be built"));
            })
        }));
        assert!(unwound.is_err(), "the panic goes through the scope");
        // The ring is still usable after the scope unwound.
        ring.scope(|s| {
            s.push(Nop::new().user_data(2)).unwrap();
            s.submit_and_wait(1).unwrap();
            assert_eq!(
                s.completions().map(|c| c.user_data()).collect::<Vec<_>>(),
                [2]
            );
        });
    });
    assert!(left < (BIG / 2) as isize, "{left} bytes leaked");
}
