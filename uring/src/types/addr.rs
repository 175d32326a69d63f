//! Socket addresses in the kernel's layout.

use std::fmt;
use std::mem::{self, MaybeUninit};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// A socket address in the kernel's layout (`sockaddr_in` / `sockaddr_in6`),
/// for ops that read one (`Connect`).
#[derive(Clone, Copy)]
pub struct SockAddr {
    storage: libc::sockaddr_storage,
    len: libc::socklen_t,
}

impl SockAddr {
    /// The address, for system calls that take a `sockaddr` pointer and
    /// [`len`](SockAddr::len) bytes (`bind(2)`, `connect(2)`). It points
    /// into `self`.
    pub fn as_ptr(&self) -> *const libc::sockaddr_storage {
        &self.storage
    }

    /// The address's length in bytes.
    pub fn len(&self) -> u32 {
        self.len
    }

    /// Whether the address is empty (it never is when built from a
    /// `SocketAddr`).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The address as a `SocketAddr`, if it is IPv4 or IPv6.
    pub fn as_socket_addr(&self) -> Option<SocketAddr> {
        decode(&self.storage, self.len)
    }
}

impl From<SocketAddr> for SockAddr {
    fn from(addr: SocketAddr) -> SockAddr {
        // SAFETY: all-zero bytes are a valid `sockaddr_storage`.
        let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
        let len = match addr {
            SocketAddr::V4(v4) => {
                let sin = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: v4.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from_ne_bytes(v4.ip().octets()),
                    },
                    sin_zero: [0; 8],
                };
                // SAFETY: `sockaddr_storage` is larger than and aligned for
                // every sockaddr type.
                unsafe { (&mut storage as *mut _ as *mut libc::sockaddr_in).write(sin) };
                mem::size_of::<libc::sockaddr_in>()
            }
            SocketAddr::V6(v6) => {
                let sin6 = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: v6.port().to_be(),
                    sin6_flowinfo: v6.flowinfo(),
                    sin6_addr: libc::in6_addr {
                        s6_addr: v6.ip().octets(),
                    },
                    sin6_scope_id: v6.scope_id(),
                };
                // SAFETY: as above.
                unsafe { (&mut storage as *mut _ as *mut libc::sockaddr_in6).write(sin6) };
                mem::size_of::<libc::sockaddr_in6>()
            }
        };
        SockAddr {
            storage,
            len: len as libc::socklen_t,
        }
    }
}

impl fmt::Debug for SockAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.as_socket_addr() {
            Some(addr) => write!(f, "SockAddr({addr})"),
            None => write!(
                f,
                "SockAddr(family {}, {} bytes)",
                self.storage.ss_family, self.len
            ),
        }
    }
}

/// Room for the peer address an op writes back (`Accept`).
pub struct SockAddrBuf {
    storage: MaybeUninit<libc::sockaddr_storage>,
    len: libc::socklen_t,
}

impl SockAddrBuf {
    /// An empty buffer, large enough for any address.
    pub fn new() -> SockAddrBuf {
        SockAddrBuf {
            storage: MaybeUninit::zeroed(),
            len: mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t,
        }
    }

    /// The storage and its length word, emptied for the kernel to fill: an
    /// address it does not write leaves the buffer empty, not holding the
    /// last one.
    /// Copies the address bytes `bytes` (as the kernel wrote them
    /// elsewhere) into the buffer.
    pub(crate) fn fill_from(&mut self, bytes: &[u8]) {
        let n = bytes.len().min(mem::size_of::<libc::sockaddr_storage>());
        self.storage = MaybeUninit::zeroed();
        // SAFETY: `n` bytes fit in the storage, which is plain bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.storage.as_mut_ptr().cast(), n)
        };
        self.len = n as libc::socklen_t;
    }

    pub(crate) fn as_out_ptrs(&mut self) -> (*mut libc::sockaddr_storage, *mut libc::socklen_t) {
        self.storage = MaybeUninit::zeroed();
        self.len = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        (self.storage.as_mut_ptr(), &mut self.len)
    }

    /// The address the kernel wrote, if it is IPv4 or IPv6.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        // SAFETY: the storage was zeroed at creation and the kernel only
        // writes initialised bytes to it.
        decode(unsafe { self.storage.assume_init_ref() }, self.len)
    }
}

impl Default for SockAddrBuf {
    fn default() -> Self {
        SockAddrBuf::new()
    }
}

impl fmt::Debug for SockAddrBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SockAddrBuf")
            .field(&self.socket_addr())
            .finish()
    }
}

fn decode(storage: &libc::sockaddr_storage, len: libc::socklen_t) -> Option<SocketAddr> {
    let len = len as usize;
    match storage.ss_family as libc::c_int {
        libc::AF_INET if len >= mem::size_of::<libc::sockaddr_in>() => {
            // SAFETY: the family says the storage holds a `sockaddr_in`.
            let sin = unsafe { &*(storage as *const _ as *const libc::sockaddr_in) };
            let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
            Some(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 if len >= mem::size_of::<libc::sockaddr_in6>() => {
            // SAFETY: the family says the storage holds a `sockaddr_in6`.
            let sin6 = unsafe { &*(storage as *const _ as *const libc::sockaddr_in6) };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}
