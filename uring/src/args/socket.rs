//! What the `Socket` op makes: the families and types whose sockets safe
//! code may hold.

use crate::op::SqeField;
use std::fmt;

/// The family of a socket the `Socket` op makes: `AF_INET`, `AF_INET6` or
/// `AF_UNIX` (from their `libc` numbers, or [`SocketDomain::INET`], ...),
/// the families std makes sockets of.
///
/// Other families' messages and options name descriptors by number or
/// memory by address inside their bytes (netlink's `IFLA_XDP_FD` attaches
/// the program behind a number, RDS's control records carry addresses the
/// kernel uses after the op), which no borrow covers: a number of another
/// family converts to -1, and the op fails with `EAFNOSUPPORT`. They are
/// made with the `unsafe` [`SocketDomain::any`].
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SocketDomain(i32);

impl SocketDomain {
    /// `AF_INET`.
    pub const INET: SocketDomain = SocketDomain(libc::AF_INET);
    /// `AF_INET6`.
    pub const INET6: SocketDomain = SocketDomain(libc::AF_INET6);
    /// `AF_UNIX`.
    pub const UNIX: SocketDomain = SocketDomain(libc::AF_UNIX);

    /// Any family.
    ///
    /// # Safety
    ///
    /// What the program sends on the socket, and the options and control
    /// records it gives it, must name no descriptor it does not own and no
    /// memory that is not borrowed for as long as the kernel uses it.
    pub const unsafe fn any(domain: i32) -> SocketDomain {
        SocketDomain(domain)
    }

    /// The `AF_*` number.
    pub const fn raw(self) -> i32 {
        self.0
    }
}

impl From<i32> for SocketDomain {
    /// `domain` if it is `AF_INET`, `AF_INET6` or `AF_UNIX`; else -1, which
    /// the kernel refuses (`EAFNOSUPPORT`).
    fn from(domain: i32) -> SocketDomain {
        match domain {
            libc::AF_INET | libc::AF_INET6 | libc::AF_UNIX => SocketDomain(domain),
            _ => SocketDomain(-1),
        }
    }
}

impl fmt::Debug for SocketDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SocketDomain").field(&self.0).finish()
    }
}

// SAFETY: a number; what the family may do is vouched for by the
// conversion or by the caller of `SocketDomain::any`.
unsafe impl SqeField<i32> for SocketDomain {
    #[inline(always)]
    fn into_field(self) -> i32 {
        self.0
    }
}

/// The type of a socket the `Socket` op makes: `SOCK_STREAM`, `SOCK_DGRAM`,
/// `SOCK_SEQPACKET` or `SOCK_RAW`, with `SOCK_CLOEXEC` and `SOCK_NONBLOCK`
/// or-ed in as wanted. Any other type converts to -1, which the kernel
/// refuses (`EINVAL`): `SOCK_PACKET` would make an `AF_INET` socket a
/// packet socket.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SocketType(i32);

impl From<i32> for SocketType {
    fn from(kind: i32) -> SocketType {
        let flags = libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK;
        let base = kind & !flags;
        let known = matches!(
            base,
            libc::SOCK_STREAM | libc::SOCK_DGRAM | libc::SOCK_SEQPACKET | libc::SOCK_RAW
        );
        SocketType(if known { kind } else { -1 })
    }
}

impl fmt::Debug for SocketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SocketType").field(&self.0).finish()
    }
}

// SAFETY: a number. The kernel reads `off` as an `int`: sign-extended, as
// liburing writes it.
unsafe impl SqeField<u64> for SocketType {
    #[inline(always)]
    fn into_field(self) -> u64 {
        self.0 as i64 as u64
    }
}
