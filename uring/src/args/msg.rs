//! Message headers of `SendMsg` and `RecvMsg` (`struct msghdr`).

use crate::error::{Error, Result};
use crate::op::SqeField;
use crate::types::{SockAddr, SockAddrBuf};
use std::fmt;
use std::io::{IoSlice, IoSliceMut};
use std::marker::PhantomData;
use std::mem;

/// A message for `SendMsg`: the buffers to send, and optionally a
/// destination address and ancillary data.
pub struct MsgHdr<'a> {
    raw: libc::msghdr,
    _parts: PhantomData<(&'a [IoSlice<'a>], &'a SockAddr, &'a [u8])>,
}

impl<'a> MsgHdr<'a> {
    /// A message of `buffers`.
    pub fn new(buffers: &'a [IoSlice<'a>]) -> MsgHdr<'a> {
        // SAFETY: all-zero bytes are a valid, empty `msghdr`.
        let mut raw: libc::msghdr = unsafe { mem::zeroed() };
        raw.msg_iov = buffers.as_ptr() as *mut libc::iovec;
        raw.msg_iovlen = buffers.len() as _;
        MsgHdr {
            raw,
            _parts: PhantomData,
        }
    }

    /// Sends to `addr` (an unconnected datagram socket).
    pub fn to(mut self, addr: &'a SockAddr) -> MsgHdr<'a> {
        self.raw.msg_name = addr.as_ptr() as *mut libc::c_void;
        self.raw.msg_namelen = addr.len();
        self
    }

    /// Sends `control` as ancillary data (`cmsg` records), unless a record
    /// passes descriptors (`SCM_RIGHTS`): their numbers would name whatever
    /// files hold them when the kernel reads the message, which only
    /// [`control_unchecked`](MsgHdr::control_unchecked) may vouch for.
    pub fn control(self, control: &'a [u8]) -> Result<MsgHdr<'a>> {
        if passes_descriptors(control) {
            return Err(Error::InvalidArgument(
                "ancillary data that passes descriptors (SCM_RIGHTS) needs \
                 `MsgHdr::control_unchecked`"
                    .into(),
            ));
        }
        // SAFETY: no record of `control` passes descriptors (checked just
        // above, the way the kernel walks the records), and the bytes cannot
        // change while borrowed.
        Ok(unsafe { self.control_unchecked(control) })
    }

    /// Sends `control` as ancillary data, as it is.
    ///
    /// # Safety
    ///
    /// Every descriptor an `SCM_RIGHTS` record of `control` names must be
    /// open, and name the file the caller means, until the op completes.
    pub unsafe fn control_unchecked(mut self, control: &'a [u8]) -> MsgHdr<'a> {
        self.raw.msg_control = control.as_ptr() as *mut libc::c_void;
        self.raw.msg_controllen = control.len() as _;
        self
    }
}

/// Whether a record of `control`, walked as the kernel walks `cmsg` records
/// (`for_each_cmsghdr`), passes descriptors; a record the kernel would
/// refuse ends the walk, since the kernel stops there too (with `EINVAL`).
fn passes_descriptors(control: &[u8]) -> bool {
    let header = mem::size_of::<libc::cmsghdr>();
    let align = mem::size_of::<usize>();
    let mut at = 0usize;
    while control.len().saturating_sub(at) >= header {
        // SAFETY: `header` bytes from `at` are in the slice (checked by the
        // loop condition); the read is unaligned-safe.
        let cmsg: libc::cmsghdr = unsafe {
            control
                .as_ptr()
                .add(at)
                .cast::<libc::cmsghdr>()
                .read_unaligned()
        };
        // `cmsg_len` is a `size_t` on glibc and a `socklen_t` on musl.
        #[allow(clippy::unnecessary_cast)]
        let len = cmsg.cmsg_len as usize;
        if len < header || len > control.len() - at {
            return false;
        }
        if cmsg.cmsg_level == libc::SOL_SOCKET && cmsg.cmsg_type == libc::SCM_RIGHTS {
            return true;
        }
        match len.checked_next_multiple_of(align) {
            Some(step) => at = at.saturating_add(step),
            None => return false,
        }
    }
    false
}

impl fmt::Debug for MsgHdr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MsgHdr")
            .field("buffers", &self.raw.msg_iovlen)
            .field("namelen", &self.raw.msg_namelen)
            .field("controllen", &self.raw.msg_controllen)
            .finish()
    }
}

// SAFETY: the address of a header borrowed for the op's lifetime; the
// buffers, address and control data it points to are borrowed as long.
unsafe impl SqeField<u64> for &MsgHdr<'_> {
    #[inline(always)]
    fn into_field(self) -> u64 {
        &self.raw as *const libc::msghdr as u64
    }
}

/// A message for `RecvMsg`: the buffers to receive into, and optionally room
/// for the sender's address and ancillary data. The kernel writes the
/// lengths and flags back; read them after the completion.
pub struct MsgHdrMut<'a> {
    raw: libc::msghdr,
    _parts: PhantomData<(&'a mut [IoSliceMut<'a>], &'a mut SockAddrBuf, &'a mut [u8])>,
}

impl<'a> MsgHdrMut<'a> {
    /// A message received into `buffers`.
    pub fn new(buffers: &'a mut [IoSliceMut<'a>]) -> MsgHdrMut<'a> {
        // SAFETY: all-zero bytes are a valid, empty `msghdr`.
        let mut raw: libc::msghdr = unsafe { mem::zeroed() };
        raw.msg_iov = buffers.as_mut_ptr() as *mut libc::iovec;
        raw.msg_iovlen = buffers.len() as _;
        MsgHdrMut {
            raw,
            _parts: PhantomData,
        }
    }

    /// Receives the sender's address into `from` (emptied first, so that
    /// [`SockAddrBuf::socket_addr`] is `None` when the message came without
    /// an address).
    pub fn from(mut self, from: &'a mut SockAddrBuf) -> MsgHdrMut<'a> {
        let (storage, len) = from.as_out_ptrs();
        self.raw.msg_name = storage.cast();
        // SAFETY: `len` points to the buffer's length word, just reset.
        self.raw.msg_namelen = unsafe { *len };
        self
    }

    /// Receives ancillary data into `control`. (Descriptors received with
    /// `SCM_RIGHTS` are new descriptors of this process, owned by whoever
    /// reads them out of `control`.)
    pub fn control(mut self, control: &'a mut [u8]) -> MsgHdrMut<'a> {
        self.raw.msg_control = control.as_mut_ptr().cast();
        self.raw.msg_controllen = control.len() as _;
        self
    }

    /// The length of the sender's address the kernel wrote.
    pub fn name_len(&self) -> u32 {
        self.raw.msg_namelen
    }

    /// The length of the ancillary data the kernel wrote.
    // `msg_controllen` is a `size_t` on glibc and a `socklen_t` on musl.
    #[allow(clippy::unnecessary_cast)]
    pub fn control_len(&self) -> usize {
        self.raw.msg_controllen as usize
    }

    /// The `MSG_*` flags the kernel set (`MSG_TRUNC`, `MSG_CTRUNC`, ...).
    pub fn flags(&self) -> i32 {
        self.raw.msg_flags
    }
}

impl fmt::Debug for MsgHdrMut<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MsgHdrMut")
            .field("buffers", &self.raw.msg_iovlen)
            .field("namelen", &self.raw.msg_namelen)
            .field("controllen", &self.raw.msg_controllen)
            .field("flags", &self.raw.msg_flags)
            .finish()
    }
}

// SAFETY: the address of a header borrowed exclusively for the op's lifetime
// (the kernel writes its lengths and flags); what it points to is borrowed
// as long.
unsafe impl SqeField<u64> for &mut MsgHdrMut<'_> {
    #[inline(always)]
    fn into_field(self) -> u64 {
        &mut self.raw as *mut libc::msghdr as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(level: i32, kind: i32, data: &[u8]) -> Vec<u8> {
        let header = mem::size_of::<libc::cmsghdr>();
        let len = header + data.len();
        let mut bytes = vec![0u8; len.next_multiple_of(mem::size_of::<usize>())];
        // SAFETY: all-zero bytes are a valid `cmsghdr`.
        let mut cmsg: libc::cmsghdr = unsafe { mem::zeroed() };
        cmsg.cmsg_len = len as _;
        cmsg.cmsg_level = level;
        cmsg.cmsg_type = kind;
        // SAFETY: `bytes` holds at least a header.
        unsafe {
            bytes
                .as_mut_ptr()
                .cast::<libc::cmsghdr>()
                .write_unaligned(cmsg)
        };
        bytes[header..len].copy_from_slice(data);
        bytes
    }

    #[test]
    fn descriptor_passing_is_found_in_any_record() {
        let creds = record(libc::SOL_SOCKET, libc::SCM_CREDENTIALS, &[0; 12]);
        let rights = record(libc::SOL_SOCKET, libc::SCM_RIGHTS, &0i32.to_ne_bytes());
        assert!(!passes_descriptors(&creds));
        assert!(passes_descriptors(&rights));
        let both = [creds.clone(), rights].concat();
        assert!(passes_descriptors(&both));
        assert!(!passes_descriptors(&[]));
        assert!(!passes_descriptors(&creds[..4]));
        let iov = [IoSlice::new(b"x")];
        assert!(MsgHdr::new(&iov).control(&both).is_err());
        assert!(MsgHdr::new(&iov).control(&creds).is_ok());
    }
}
