//! Socket addresses in the kernel's layout.

use std::fmt;
use std::io;
use std::mem::{self, MaybeUninit};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::linux::net::SocketAddrExt as _;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::net::SocketAddr as UnixAddr;
use std::path::Path;

/// The bytes of `sun_path` (108 on Linux).
const SUN_PATH_LEN: usize =
    mem::size_of::<libc::sockaddr_un>() - mem::offset_of!(libc::sockaddr_un, sun_path);

/// A socket address in the kernel's layout (`sockaddr_in`, `sockaddr_in6`
/// or `sockaddr_un`), for ops that read one (`Connect`, `SendMsg`).
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

    /// The Unix-domain address of the file system path `path`, for
    /// `bind(2)` and `connect(2)`: `InvalidInput` if the path holds a NUL
    /// byte or does not fit `sun_path` (107 bytes and its NUL).
    pub fn unix(path: impl AsRef<Path>) -> io::Result<SockAddr> {
        let bytes = path.as_ref().as_os_str().as_bytes();
        if bytes.is_empty() {
            // The kernel would read the empty abstract name.
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "an empty Unix socket path",
            ));
        }
        if bytes.contains(&0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a Unix socket path holds a NUL byte",
            ));
        }
        // The kernel reads the path up to its NUL: keep room for one.
        SockAddr::unix_bytes(bytes, 1)
    }

    /// The Unix-domain address `sun_path` of `bytes` (a path, or an abstract
    /// name with its leading NUL), and `nul` bytes after them inside the
    /// length.
    fn unix_bytes(bytes: &[u8], nul: usize) -> io::Result<SockAddr> {
        // SAFETY: all-zero bytes are a valid `sockaddr_un`.
        let mut sun: libc::sockaddr_un = unsafe { mem::zeroed() };
        if bytes.len() + nul > sun.sun_path.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the Unix socket address is longer than sun_path",
            ));
        }
        sun.sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (dst, &src) in sun.sun_path.iter_mut().zip(bytes) {
            *dst = src as libc::c_char;
        }
        let len = mem::offset_of!(libc::sockaddr_un, sun_path) + bytes.len() + nul;
        // SAFETY: all-zero bytes are a valid `sockaddr_storage`.
        let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
        // SAFETY: `sockaddr_storage` is larger than and aligned for every
        // sockaddr type.
        unsafe { (&mut storage as *mut _ as *mut libc::sockaddr_un).write(sun) };
        Ok(SockAddr {
            storage,
            len: len as libc::socklen_t,
        })
    }

    /// The address as a Unix-domain address, if it is one.
    pub fn as_unix_addr(&self) -> Option<UnixAddr> {
        decode_unix(&self.storage, self.len)
    }
}

/// A Unix-domain address: a path, an abstract name, or unnamed (an unbound
/// socket's, which reaches no one; binding to it binds an abstract name the
/// kernel picks).
impl From<&UnixAddr> for SockAddr {
    fn from(addr: &UnixAddr) -> SockAddr {
        let sun = if let Some(path) = addr.as_pathname() {
            let bytes = path.as_os_str().as_bytes();
            // A path the kernel reported may fill `sun_path`, with no NUL
            // after it: the kernel takes it so.
            let nul = usize::from(bytes.len() < SUN_PATH_LEN);
            SockAddr::unix_bytes(bytes, nul)
        } else if let Some(name) = addr.as_abstract_name() {
            let mut bytes = Vec::with_capacity(name.len() + 1);
            bytes.push(0);
            bytes.extend_from_slice(name);
            SockAddr::unix_bytes(&bytes, 0)
        } else {
            SockAddr::unix_bytes(&[], 0)
        };
        // std's addresses are the kernel's, which fit `sun_path`.
        sun.unwrap_or_else(|_| SockAddr::unix_bytes(&[], 0).expect("an unnamed address fits"))
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
        if let Some(addr) = self.as_socket_addr() {
            return write!(f, "SockAddr({addr})");
        }
        match self.as_unix_addr() {
            Some(addr) => write!(f, "SockAddr({addr:?})"),
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

    /// Sets the length of the address the kernel wrote, when it reported
    /// it elsewhere: after a receive through a
    /// [`MsgHdrMut`](crate::MsgHdrMut), pass its
    /// [`name_len`](crate::MsgHdrMut::name_len) (at most the storage's size
    /// is kept). Unix-domain addresses need it: an abstract name's length,
    /// and an unbound sender's empty address, are told by it alone.
    pub fn set_len(&mut self, len: u32) {
        self.len = len.min(mem::size_of::<libc::sockaddr_storage>() as u32);
    }

    /// The length of the address, as the kernel last reported it.
    pub(crate) fn len(&self) -> u32 {
        self.len
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

    /// The address the kernel wrote, if it is a Unix-domain one. The
    /// kernel writes no bytes at all for an unbound Unix-domain sender:
    /// that reads as the unnamed address (on a Unix-domain socket; an IP
    /// one's receives write none either). A path that fills `sun_path`
    /// (108 bytes, no NUL), which std cannot build an address of, reads as
    /// `None`.
    pub fn unix_addr(&self) -> Option<UnixAddr> {
        if self.len == 0 {
            return unnamed();
        }
        // SAFETY: as for `socket_addr`.
        decode_unix(unsafe { self.storage.assume_init_ref() }, self.len)
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

/// A Unix-domain address of `len` bytes in `storage`, as std spells it.
fn decode_unix(storage: &libc::sockaddr_storage, len: libc::socklen_t) -> Option<UnixAddr> {
    if storage.ss_family as libc::c_int != libc::AF_UNIX {
        return None;
    }
    // SAFETY: the family says the storage holds a `sockaddr_un`.
    let sun = unsafe { &*(storage as *const _ as *const libc::sockaddr_un) };
    let start = mem::offset_of!(libc::sockaddr_un, sun_path);
    let n = (len as usize).saturating_sub(start).min(sun.sun_path.len());
    let bytes: Vec<u8> = sun.sun_path[..n].iter().map(|&b| b as u8).collect();
    match bytes.split_first() {
        None => unnamed(),
        Some((0, name)) => UnixAddr::from_abstract_name(name).ok(),
        Some(_) => {
            let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
            UnixAddr::from_pathname(Path::new(std::ffi::OsStr::from_bytes(&bytes[..end]))).ok()
        }
    }
}

/// The unnamed Unix-domain address (std builds one only from a socket).
fn unnamed() -> Option<UnixAddr> {
    static UNNAMED: std::sync::OnceLock<Option<UnixAddr>> = std::sync::OnceLock::new();
    UNNAMED
        .get_or_init(|| {
            std::os::unix::net::UnixDatagram::unbound()
                .and_then(|s| s.local_addr())
                .ok()
        })
        .clone()
}
