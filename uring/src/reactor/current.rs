//! The thread's current reactor: the one whose run is polling the code
//! that asks (a task, a callback, the future of `run_until`, anything its
//! tokio driver polls), or one entered with [`Handle::enter`].
//!
//! Each thread keeps a stack of entries: a run pushes its reactor for as
//! long as it runs, a guard of [`Handle::enter`] for as long as it lives,
//! and the top one is current.

use super::Handle;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;

thread_local! {
    /// The entries of this thread, the current one last, each with the
    /// number its guard removes it by.
    static ENTRIES: RefCell<Vec<(u64, Handle)>> = const { RefCell::new(Vec::new()) };
    /// The number of the next entry.
    static NEXT: Cell<u64> = const { Cell::new(0) };
}

/// Keeps a reactor current on this thread until dropped
/// ([`Handle::enter`]); an entry made later, while this one lives, is
/// current instead until it goes. Guards may be dropped in any order:
/// each takes its own entry away. It stays on its thread (it is neither
/// `Send` nor `Sync`).
#[must_use = "the reactor is current only while the guard lives"]
pub struct EnterGuard {
    /// The number of its entry in this thread's stack.
    id: u64,
}

mod thread {
    /// What an [`EnterGuard`](super::EnterGuard) would need to go to
    /// another thread, or be shared with one: no type has it, so that the
    /// compiler's error for a guard sent to a thread says why.
    #[diagnostic::on_unimplemented(
        message = "an `EnterGuard` cannot be sent to or shared with another thread",
        label = "an `EnterGuard` stays on the thread that entered its reactor",
        note = "dropping the guard takes its entry off the stack of current reactors of the thread that made it",
        note = "call `Handle::enter` on the thread that needs the reactor current; other threads reach a reactor through a `Remote`"
    )]
    pub trait ThreadSafeGuard {}
}

#[doc(hidden)]
// SAFETY: the bound never holds: `ThreadSafeGuard` has no impl, and no
// code outside this module can name it to add one. A guard must not leave
// its thread, whose stack its drop edits; the impl keeps it there and makes
// the compiler say why.
unsafe impl Send for EnterGuard where for<'a> &'a EnterGuard: thread::ThreadSafeGuard {}

#[doc(hidden)]
// SAFETY: as for `Send`.
unsafe impl Sync for EnterGuard where for<'a> &'a EnterGuard: thread::ThreadSafeGuard {}

impl fmt::Debug for EnterGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnterGuard").field("id", &self.id).finish()
    }
}

/// Makes `handle`'s reactor current on this thread until the guard drops.
pub(crate) fn enter(handle: &Handle) -> EnterGuard {
    let id = NEXT.with(|next| {
        let id = next.get();
        next.set(id.wrapping_add(1));
        id
    });
    // A thread whose locals are being destroyed keeps no entry: the guard
    // then finds none to take away.
    let _ = ENTRIES.try_with(|entries| entries.borrow_mut().push((id, handle.clone())));
    EnterGuard { id }
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let taken = ENTRIES.try_with(|entries| {
            let mut entries = entries.borrow_mut();
            let at = entries.iter().rposition(|(id, _)| *id == self.id)?;
            Some(entries.remove(at).1)
        });
        // Dropped with the stack released: the last handle of a reactor
        // drops its tasks, whose drops may ask for the current reactor.
        drop(taken);
    }
}

/// The thread's current reactor.
pub(crate) fn current() -> io::Result<Handle> {
    ENTRIES
        .try_with(|entries| entries.borrow().last().map(|(_, handle)| handle.clone()))
        .ok()
        .flatten()
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "no reactor is current on this thread: call from a task, a callback or a \
                 run of a reactor, or inside `Handle::enter`",
            )
        })
}
