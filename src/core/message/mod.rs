//! The message itself: building it from a draft (`compose`, with `jis` for ISO-2022-JP), the draft
//! files (`drafts`), the address book (`contacts`), `mailto:` links (`mailto`) and a message
//! another program handed over (`submission`). Nothing here touches the network.

pub mod compose;
pub mod contacts;
pub mod drafts;
pub mod jis;
pub mod mailto;
pub mod submission;
