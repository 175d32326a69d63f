//! What the property tests share: seeds and case counts from the
//! environment, a watchdog that ends a hung run, a runner that names the
//! seed of a failing case, and an arena for what a case lends the kernel.
//!
//! - `URING_PROP_SEED`: the seed of the first case (decimal or `0x` hex);
//!   a failing case prints the value that runs it again first.
//! - `URING_PROP_CASES`: how many cases per op (or per property), instead
//!   of the short default.
//! - `URING_PROP_OP`: run the cases of this op only.
//! - `URING_PROP_HANG_SECS`: how long one case may run before the watchdog
//!   ends the process (default 120 s).

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::{Mutex, OnceLock};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

/// The seed given in `URING_PROP_SEED`, if any.
pub fn given_seed() -> Option<u64> {
    let text = std::env::var("URING_PROP_SEED").ok()?;
    Some(parse_u64(&text).unwrap_or_else(|| panic!("URING_PROP_SEED={text:?} is not a number")))
}

/// The seed a run starts from: `URING_PROP_SEED`, or `default`.
pub fn base_seed(default: u64) -> u64 {
    given_seed().unwrap_or(default)
}

/// How many cases to run: `URING_PROP_CASES`, or `default`.
pub fn cases(default: u64) -> u64 {
    match std::env::var("URING_PROP_CASES") {
        Ok(text) => {
            parse_u64(&text).unwrap_or_else(|| panic!("URING_PROP_CASES={text:?} is not a number"))
        }
        Err(_) => default,
    }
}

/// Whether the cases of op `name` run: all do unless `URING_PROP_OP` names
/// another.
pub fn op_selected(name: &str) -> bool {
    std::env::var("URING_PROP_OP").map_or(true, |only| only == name)
}

fn parse_u64(text: &str) -> Option<u64> {
    let text = text.trim();
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// The seed of case `i` of a run that starts at `base`: case 0 runs `base`
/// itself, so that a printed seed runs its case first.
pub fn case_seed(base: u64, i: u64) -> u64 {
    if i == 0 {
        return base;
    }
    let mut z = base ^ i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A case running now: when it started, how to run it again, and what it
/// said about itself.
struct Running {
    started: Instant,
    what: String,
    notes: Vec<String>,
}

/// The cases running now, by thread.
fn running() -> &'static Mutex<HashMap<ThreadId, Running>> {
    static RUNNING: OnceLock<Mutex<HashMap<ThreadId, Running>>> = OnceLock::new();
    RUNNING.get_or_init(|| {
        let limit = std::env::var("URING_PROP_HANG_SECS")
            .ok()
            .and_then(|s| parse_u64(&s))
            .unwrap_or(120);
        std::thread::spawn(move || watchdog(Duration::from_secs(limit)));
        Mutex::new(HashMap::new())
    })
}

/// Ends the process when a case has run longer than `limit`: a hang is a
/// failure, and the seed printed runs it again.
fn watchdog(limit: Duration) {
    loop {
        std::thread::sleep(Duration::from_millis(250));
        let cases = running().lock().unwrap_or_else(|e| e.into_inner());
        if let Some(case) = cases.values().find(|case| case.started.elapsed() > limit) {
            // Straight to the process's stderr: the test harness would
            // capture `eprintln!` of a thread a test spawned.
            let mut err = std::io::stderr().lock();
            for line in &case.notes {
                let _ = writeln!(err, "  {line}");
            }
            let _ = writeln!(
                err,
                "a property case hung for {:?} (limit {limit:?}); run it again with: {}",
                case.started.elapsed(),
                case.what
            );
            std::process::exit(101);
        }
    }
}

/// Notes what the running case is doing (its setup, what it pushed), to be
/// shown if it fails or hangs.
pub fn note(what: impl Into<String>) {
    let me = std::thread::current().id();
    if let Some(case) = running()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_mut(&me)
    {
        case.notes.push(what.into());
    }
}

/// Runs one case under the watchdog; if it panics, shows its notes, says
/// how to run it again (`what` names its seed) and passes the panic on.
pub fn run_case<T>(what: impl Into<String>, case: impl FnOnce() -> T) -> T {
    let what = what.into();
    let me = std::thread::current().id();
    running().lock().unwrap_or_else(|e| e.into_inner()).insert(
        me,
        Running {
            started: Instant::now(),
            what: what.clone(),
            notes: Vec::new(),
        },
    );
    let result = catch_unwind(AssertUnwindSafe(case));
    let done = running()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&me);
    match result {
        Ok(value) => value,
        Err(panic) => {
            for line in done.iter().flat_map(|case| &case.notes) {
                eprintln!("  {line}");
            }
            eprintln!("property case failed; run it again with: {what}");
            resume_unwind(panic)
        }
    }
}

/// Values a case lends the kernel (buffers, headers, files), kept at fixed
/// addresses until the arena is dropped, which a case does after its rings.
/// If the case panics, nothing is freed: an op the kernel still runs may
/// use it.
#[derive(Default)]
pub struct Arena {
    items: RefCell<Vec<Kept>>,
}

/// A value an [`Arena`] keeps: its box, and the function that drops it.
type Kept = (*mut u8, unsafe fn(*mut u8));

impl Arena {
    /// An empty arena.
    pub fn new() -> Arena {
        Arena::default()
    }

    /// Stores `value` until the arena is dropped, and lends it.
    #[allow(clippy::mut_from_ref)]
    pub fn keep<T>(&self, value: T) -> &mut T {
        /// Drops the box behind `ptr`.
        ///
        /// # Safety
        ///
        /// `ptr` comes from `Box::<T>::into_raw`, and is dropped once.
        unsafe fn drop_box<T>(ptr: *mut u8) {
            // SAFETY: the caller's.
            drop(unsafe { Box::from_raw(ptr.cast::<T>()) });
        }
        let ptr = Box::into_raw(Box::new(value));
        self.items
            .borrow_mut()
            .push((ptr.cast(), drop_box::<T> as unsafe fn(*mut u8)));
        // SAFETY: the box is freed only when the arena is dropped, which
        // the borrow of `self` outlasts; each value is lent once.
        unsafe { &mut *ptr }
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // The kernel may still use what was lent: leak it.
            return;
        }
        for (ptr, drop_fn) in self.items.get_mut().drain(..).rev() {
            // SAFETY: each pointer came from `keep`'s `Box::into_raw` with
            // its own drop function, and is dropped once, here.
            unsafe { drop_fn(ptr) };
        }
    }
}
