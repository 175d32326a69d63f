//! A descriptor that ops in flight keep open.

use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::rc::Rc;

/// An owned descriptor, shared by the value that owns it and by every op
/// in flight on it: the descriptor is closed once the last of them is gone,
/// so an op never acts on a number that was closed and reused meanwhile.
///
/// Made from anything that converts into an `OwnedFd` (a `File`, a std
/// socket, an `OwnedFd`); cloning it is cheap.
#[derive(Clone)]
pub struct SharedFd(Rc<OwnedFd>);

impl SharedFd {
    /// Shares `fd`.
    pub fn new(fd: impl Into<OwnedFd>) -> SharedFd {
        SharedFd(Rc::new(fd.into()))
    }

    /// The descriptor back, if no other `SharedFd` (and no op in flight)
    /// holds it.
    pub fn try_unwrap(self) -> Result<OwnedFd, SharedFd> {
        Rc::try_unwrap(self.0).map_err(SharedFd)
    }

    /// The borrowed descriptor, as ops take it.
    #[inline(always)]
    pub(crate) fn owned(&self) -> &OwnedFd {
        &self.0
    }
}

impl<F: Into<OwnedFd>> From<F> for SharedFd {
    fn from(fd: F) -> SharedFd {
        SharedFd::new(fd)
    }
}

impl AsFd for SharedFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl AsRawFd for SharedFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

impl fmt::Debug for SharedFd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SharedFd")
            .field(&self.0.as_raw_fd())
            .finish()
    }
}
