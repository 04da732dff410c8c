//! One request type per route, declared once: [`request_type!`] writes the struct that
//! documents the body in OpenAPI (`ToSchema`, with the wire names) and its `decode` from the
//! decoded [`Fields`](super::fields::Fields), field by field from the same declaration, so the
//! document and the decoding cannot drift apart.

/// Declares a request type. Each field names its wire name and the [`Fields`] getter that
/// decodes it: `message: Option<String> = text("message")`. Schema attributes on a field
/// (`#[schema(value_type = String)]` for a required text) only change the document.
///
/// [`Fields`]: crate::wire::fields::Fields
macro_rules! request_type {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ty = $getter:ident($wire:literal) ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, utoipa::ToSchema)]
        pub struct $name {
            $( $(#[$fmeta])* #[schema(rename = $wire)] pub $field: $ty, )*
        }

        impl $name {
            /// Decodes the request from its fields (names in any letter case).
            pub fn decode(
                fields: &$crate::wire::fields::Fields,
            ) -> Result<Self, bellhop_domain::DomainError> {
                Ok(Self {
                    $( $field: fields.$getter($wire)?, )*
                })
            }
        }
    };
}

pub(crate) use request_type;
