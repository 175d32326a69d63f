//! Arguments of the ops that act on other ops: what a cancel matches, what
//! a poll update changes, the completion flags a message passes on.

use crate::op::{Entry, SqeField};
use crate::sys;
use crate::types::{IntoTarget, PollEvents, Target};
use std::marker::PhantomData;
use std::os::fd::BorrowedFd;

/// The file whose ops `CancelFd` cancels: a borrowed descriptor, or a fixed
/// file of the ring the cancel is pushed to (`IORING_ASYNC_CANCEL_FD_FIXED`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CancelFile<'a> {
    fd: i32,
    fixed: bool,
    ring: u32,
    _file: PhantomData<BorrowedFd<'a>>,
}

impl<'a, T> From<T> for CancelFile<'a>
where
    T: IntoTarget,
    T::Target: 'a,
{
    fn from(target: T) -> CancelFile<'a> {
        let target = target.into_target();
        CancelFile {
            fd: target.raw(),
            fixed: <T::Target as Target>::FIXED,
            ring: target.ring(),
            _file: PhantomData,
        }
    }
}

// SAFETY: a descriptor (borrowed for the op's lifetime) or a slot index, and
// the flags that say which: no address. A cancel matching on `fd` reads no
// other field.
unsafe impl SqeField<(i32, u32)> for CancelFile<'_> {
    #[inline(always)]
    fn into_field(self) -> (i32, u32) {
        let fixed = if self.fixed {
            sys::IORING_ASYNC_CANCEL_FD_FIXED
        } else {
            0
        };
        (self.fd, sys::IORING_ASYNC_CANCEL_FD | fixed)
    }

    #[inline(always)]
    fn fits_ring(&self, ring: u32) -> bool {
        !self.fixed || self.ring == ring
    }
}

/// The `user_data` a [`CancelFd`](crate::ops::CancelFd) or
/// [`CancelOp`](crate::ops::CancelOp) also matches
/// (`IORING_ASYNC_CANCEL_USERDATA`, 6.6): an op is cancelled only if it is
/// on the file (or of the opcode) and carries this `user_data`. Made from
/// a `u64`; in a scope, the `user_data` of one of the scope's ops names
/// that op, as a [`Cancel`](crate::ops::Cancel)'s does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CancelUserData(Option<u64>);

impl CancelUserData {
    /// Any `user_data`.
    pub const ANY: CancelUserData = CancelUserData(None);
}

impl From<u64> for CancelUserData {
    fn from(user_data: u64) -> CancelUserData {
        CancelUserData(Some(user_data))
    }
}

// SAFETY: a number the kernel compares, and the flag that says so: no
// address.
unsafe impl SqeField<(u64, u32)> for CancelUserData {
    #[inline(always)]
    fn into_field(self) -> (u64, u32) {
        match self.0 {
            Some(user_data) => (user_data, sys::IORING_ASYNC_CANCEL_USERDATA),
            None => (0, 0),
        }
    }
}

/// The opcode whose ops `CancelOp` cancels (`IORING_ASYNC_CANCEL_OP`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CancelOpcode(u8);

impl CancelOpcode {
    /// The ops of type `E` (`CancelOpcode::of::<Read>()`).
    pub fn of<E: Entry>() -> CancelOpcode {
        CancelOpcode(E::CODE)
    }

    /// The ops of opcode `code` (`IORING_OP_*`).
    pub const fn code(code: u8) -> CancelOpcode {
        CancelOpcode(code)
    }
}

// SAFETY: an opcode number and the flag that says to match on it.
unsafe impl SqeField<(u32, u32)> for CancelOpcode {
    #[inline(always)]
    fn into_field(self) -> (u32, u32) {
        (u32::from(self.0), sys::IORING_ASYNC_CANCEL_OP)
    }
}

/// New events for a poll (`IORING_POLL_UPDATE_EVENTS`), or none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PollEventsUpdate(Option<PollEvents>);

impl PollEventsUpdate {
    /// The events stay as they are.
    pub const NONE: PollEventsUpdate = PollEventsUpdate(None);
}

impl From<PollEvents> for PollEventsUpdate {
    fn from(events: PollEvents) -> PollEventsUpdate {
        PollEventsUpdate(Some(events))
    }
}

// SAFETY: events and the flag that says to take them: no address.
unsafe impl SqeField<(u32, u32)> for PollEventsUpdate {
    #[inline(always)]
    fn into_field(self) -> (u32, u32) {
        match self.0 {
            Some(events) => (
                SqeField::<u32>::into_field(events),
                sys::IORING_POLL_UPDATE_EVENTS,
            ),
            None => (0, 0),
        }
    }
}

/// A new `user_data` for a poll (`IORING_POLL_UPDATE_USER_DATA`), or none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UserDataUpdate(Option<u64>);

impl UserDataUpdate {
    /// The `user_data` stays as it is.
    pub const NONE: UserDataUpdate = UserDataUpdate(None);
}

impl From<u64> for UserDataUpdate {
    fn from(user_data: u64) -> UserDataUpdate {
        UserDataUpdate(Some(user_data))
    }
}

// SAFETY: a `user_data` value and the flag that says to take it: no
// address. (In a scope, the scope rewrites it: see `Scope::push`.)
unsafe impl SqeField<(u64, u32)> for UserDataUpdate {
    #[inline(always)]
    fn into_field(self) -> (u64, u32) {
        match self.0 {
            Some(user_data) => (user_data, sys::IORING_POLL_UPDATE_USER_DATA),
            None => (0, 0),
        }
    }
}

/// The `flags` a `MsgRing` completion carries on the target ring
/// (`IORING_MSG_RING_FLAGS_PASS`, 6.3), or none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PassCqeFlags(Option<u32>);

impl PassCqeFlags {
    /// The target's completion carries no flags.
    pub const NONE: PassCqeFlags = PassCqeFlags(None);
}

impl From<u32> for PassCqeFlags {
    fn from(flags: u32) -> PassCqeFlags {
        PassCqeFlags(Some(flags))
    }
}

// SAFETY: completion flags and the flag that says to pass them: no address.
// A completion with any flags lands in a ring no scope's borrow names
// (a ring in a scope cannot be named through `&Ring`), or through a
// `RingTarget` in a ring whose scopes take no op while the target lives
// (SAFETY.md, section 4); neither hands out a buffer, descriptor or owned
// vector for a completion it did not tag, and outside a scope a buffer it
// names is claimed only unsafely.
unsafe impl SqeField<(u32, u32)> for PassCqeFlags {
    #[inline(always)]
    fn into_field(self) -> (u32, u32) {
        match self.0 {
            Some(flags) => (flags, sys::IORING_MSG_RING_FLAGS_PASS),
            None => (0, 0),
        }
    }
}
