//! The values a slot holds: an op with what consumes its completions (a
//! callback, a future, a stream), each with its table of erased functions.

use crate::op::Submission;
use crate::reactor::op::{Completion, MultishotOp, Op};
use crate::reactor::ring_buf::RingBuf;
use crate::reactor::slab::{Storage, Stored, VTable};
use std::collections::VecDeque;
use std::io;

/// A slot's value.
///
/// # Safety
///
/// `sqe` must build the SQE of an [`Op`] or [`MultishotOp`] over memory
/// the value owns (the op's contract), and `VTABLE` must handle values of
/// this type only.
pub(crate) unsafe trait Cell: 'static {
    type Sqe<'a>: Submission + crate::op::FitsSqe<crate::Sqe64>
    where
        Self: 'a;
    const VTABLE: &'static VTable;
    /// Whether the op may select a provided buffer ([`Op::SELECTS_BUFFER`]):
    /// if not, its push refuses an SQE that selects one, and its
    /// completions never carry a buffer.
    const SELECTS_BUFFER: bool;
    fn sqe(&mut self) -> Self::Sqe<'_>;
}

unsafe fn no_each(_: *mut Storage, _: Completion) {}
unsafe fn no_call(_: *mut Storage, _: i32, _: u32, _: Option<RingBuf>) {}

/// A one-shot op and its callback.
pub(crate) struct CallbackCell<O, F> {
    pub(crate) op: O,
    pub(crate) f: F,
}

impl<O, F> CallbackCell<O, F>
where
    O: Op,
    F: FnOnce(io::Result<u32>, O::Output) + 'static,
{
    /// # Safety
    ///
    /// `storage` holds a value of this type, taken here before anything
    /// else runs.
    unsafe fn call(storage: *mut Storage, res: i32, flags: u32, buf: Option<RingBuf>) {
        // SAFETY: the caller's contract.
        let cell = unsafe { Stored::<Self>::take(storage) };
        let buf = if O::SELECTS_BUFFER {
            buf
        } else {
            // Its push refused an SQE that selects a buffer, so no
            // completion of it carries one: `buf` is `None`, known so here
            // (the fast path's call, with no buffer to drop).
            debug_assert!(buf.is_none());
            std::mem::forget(buf);
            None
        };
        let output = cell.op.complete(Completion { res, flags, buf });
        // (The result made last, next to the call, where the callback's
        // look at it may take the branch that made it.)
        (cell.f)(crate::reactor::op::result(res), output);
    }

    /// # Safety
    ///
    /// `storage` holds a value of this type, taken here.
    unsafe fn discard(storage: *mut Storage, completion: Option<Completion>) {
        // SAFETY: the caller's contract.
        let cell = unsafe { Stored::<Self>::take(storage) };
        if let Some(completion) = completion {
            drop(cell.op.complete(completion));
        }
    }
}

// SAFETY: the SQE is the op's; the table's functions take this type.
unsafe impl<O, F> Cell for CallbackCell<O, F>
where
    O: Op,
    F: FnOnce(io::Result<u32>, O::Output) + 'static,
{
    type Sqe<'a> = O::Sqe<'a>;
    const VTABLE: &'static VTable = &VTable {
        call: Self::call,
        each: no_each,
        discard: Self::discard,
    };
    const SELECTS_BUFFER: bool = O::SELECTS_BUFFER;
    #[inline(always)]
    fn sqe(&mut self) -> O::Sqe<'_> {
        self.op.sqe()
    }
}

/// A one-shot op awaited by a future, which takes it back typed.
pub(crate) struct FutureCell<O>(pub(crate) O);

impl<O: Op> FutureCell<O> {
    /// # Safety
    ///
    /// `storage` holds a value of this type, taken here.
    unsafe fn discard(storage: *mut Storage, completion: Option<Completion>) {
        // SAFETY: the caller's contract.
        let FutureCell(op) = unsafe { Stored::<Self>::take(storage) };
        if let Some(completion) = completion {
            drop(op.complete(completion));
        }
    }
}

// SAFETY: the SQE is the op's; the table's functions take this type.
unsafe impl<O: Op> Cell for FutureCell<O> {
    type Sqe<'a> = O::Sqe<'a>;
    const VTABLE: &'static VTable = &VTable {
        call: no_call,
        each: no_each,
        discard: Self::discard,
    };
    const SELECTS_BUFFER: bool = O::SELECTS_BUFFER;
    #[inline(always)]
    fn sqe(&mut self) -> O::Sqe<'_> {
        self.0.sqe()
    }
}

/// A multishot op and its callback, called for each completion.
pub(crate) struct MultiCell<O, F> {
    pub(crate) op: O,
    pub(crate) f: F,
}

impl<O, F> MultiCell<O, F>
where
    O: MultishotOp,
    F: FnMut(O::Item) + 'static,
{
    /// # Safety
    ///
    /// `storage` holds a value of this type, which nothing else uses during
    /// the call.
    unsafe fn each(storage: *mut Storage, completion: Completion) {
        // SAFETY: the caller's contract.
        let cell = unsafe { &mut *Stored::<Self>::get(storage) };
        let (last, res) = (!completion.has_more(), completion.res());
        let item = cell.op.item(completion);
        (cell.f)(item);
        if last && let Some(end) = cell.op.ended(res) {
            (cell.f)(end);
        }
    }

    /// # Safety
    ///
    /// `storage` holds a value of this type, taken here.
    unsafe fn discard(storage: *mut Storage, _: Option<Completion>) {
        // SAFETY: the caller's contract.
        drop(unsafe { Stored::<Self>::take(storage) });
    }
}

// SAFETY: the SQE is the op's; the table's functions take this type.
unsafe impl<O, F> Cell for MultiCell<O, F>
where
    O: MultishotOp,
    F: FnMut(O::Item) + 'static,
{
    type Sqe<'a> = O::Sqe<'a>;
    const VTABLE: &'static VTable = &VTable {
        call: no_call,
        each: Self::each,
        discard: Self::discard,
    };
    const SELECTS_BUFFER: bool = true;
    #[inline(always)]
    fn sqe(&mut self) -> O::Sqe<'_> {
        self.op.sqe()
    }
}

/// A multishot op read as a stream: its items wait here for the stream.
pub(crate) struct StreamCell<O: MultishotOp> {
    pub(crate) op: O,
    pub(crate) items: VecDeque<O::Item>,
}

impl<O: MultishotOp> StreamCell<O> {
    /// # Safety
    ///
    /// `storage` holds a value of this type, which nothing else uses during
    /// the call.
    unsafe fn each(storage: *mut Storage, completion: Completion) {
        // SAFETY: the caller's contract.
        let cell = unsafe { &mut *Stored::<Self>::get(storage) };
        let item = cell.op.item(completion);
        cell.items.push_back(item);
    }

    /// # Safety
    ///
    /// `storage` holds a value of this type, taken here.
    unsafe fn discard(storage: *mut Storage, _: Option<Completion>) {
        // SAFETY: the caller's contract.
        drop(unsafe { Stored::<Self>::take(storage) });
    }
}

// SAFETY: the SQE is the op's; the table's functions take this type.
unsafe impl<O: MultishotOp> Cell for StreamCell<O> {
    type Sqe<'a> = O::Sqe<'a>;
    const VTABLE: &'static VTable = &VTable {
        call: no_call,
        each: Self::each,
        discard: Self::discard,
    };
    const SELECTS_BUFFER: bool = true;
    #[inline(always)]
    fn sqe(&mut self) -> O::Sqe<'_> {
        self.op.sqe()
    }
}
