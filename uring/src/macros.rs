//! Small internal macros.

/// Declares a flags newtype over an integer, with named constants.
///
/// Only the named bits can be set from safe code: `from_bits_truncate`
/// drops the others, and `from_bits_retain`, which keeps them, is `unsafe`.
/// A flag set that reaches an SQE must name only bits whose effect the
/// library models; a bit that makes the kernel read another field or memory
/// is set by the typed form that supplies it.
macro_rules! flags {
    (
        $(#[$meta:meta])*
        pub struct $name:ident: $ty:ty {
            $($(#[$fmeta:meta])* const $flag:ident = $value:expr;)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name($ty);

        impl $name {
            $($(#[$fmeta])* pub const $flag: $name = $name($value);)*

            /// No flag.
            pub const fn empty() -> $name {
                $name(0)
            }

            /// Every named flag.
            pub const fn all() -> $name {
                $name(0 $(| $value)*)
            }

            /// The named flags among `bits`; the other bits are dropped.
            pub const fn from_bits_truncate(bits: $ty) -> $name {
                $name(bits & $name::all().0)
            }

            /// The flags of `bits`, or `None` if a bit is not one of the
            /// named flags.
            pub const fn from_bits(bits: $ty) -> Option<$name> {
                if bits & !$name::all().0 == 0 {
                    Some($name(bits))
                } else {
                    None
                }
            }

            /// Flags from raw bits, kept as they are: bits this crate does
            /// not name are passed to the kernel unchanged.
            ///
            /// # Safety
            ///
            /// An unnamed bit may change what the kernel reads or writes for
            /// the op (another field, memory behind an address, a file
            /// table slot). The caller vouches that every such bit is valid
            /// for the op it reaches, and that the memory and descriptors
            /// it makes the kernel use stay valid as for
            /// [`Ring::push_unchecked`](crate::Ring::push_unchecked).
            pub const unsafe fn from_bits_retain(bits: $ty) -> $name {
                $name(bits)
            }

            /// The raw bits.
            pub const fn bits(self) -> $ty {
                self.0
            }

            /// Whether every flag of `other` is set.
            pub const fn contains(self, other: $name) -> bool {
                self.0 & other.0 == other.0
            }

            /// Whether no flag is set.
            pub const fn is_empty(self) -> bool {
                self.0 == 0
            }
        }

        impl std::ops::BitOr for $name {
            type Output = $name;
            fn bitor(self, rhs: $name) -> $name {
                $name(self.0 | rhs.0)
            }
        }

        impl std::ops::BitOrAssign for $name {
            fn bitor_assign(&mut self, rhs: $name) {
                self.0 |= rhs.0;
            }
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                let mut first = true;
                write!(f, "{}(", stringify!($name))?;
                $(
                    if $value != 0 && self.0 & $value == $value {
                        if !first {
                            f.write_str(" | ")?;
                        }
                        first = false;
                        f.write_str(stringify!($flag))?;
                    }
                )*
                let rest = self.0 & !$name::all().0;
                if rest != 0 {
                    if !first {
                        f.write_str(" | ")?;
                    }
                    first = false;
                    write!(f, "{:#x}", rest)?;
                }
                let _ = first;
                f.write_str(")")
            }
        }
    };
}
