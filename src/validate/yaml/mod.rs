//! Home Assistant's YAML dialect: a node tree with positions, built from saphyr-parser events.
//!
//! HA loads YAML with PyYAML's `SafeLoader` plus its own constructors
//! (`annotatedyaml/loader.py`). That is YAML 1.1, so this module re-implements the parts
//! where YAML 1.1 and the YAML 1.2 parser underneath disagree:
//!
//! - implicit types of plain scalars (`on`/`off`/`yes`/`no` booleans, `0755` octal,
//!   `10:30` sexagesimal, `2024-01-01` dates, `1e3` staying a string);
//! - merge keys `<<` (and their refusal of `<<: !include`);
//! - duplicate keys: HA only logs a warning and the last value wins, we report both lines;
//! - unhashable keys, unknown tags, multiple documents and forbidden characters, which
//!   PyYAML refuses.
//!
//! HA's own tags (`!include`, `!secret`…) are kept as [`Kind::Tagged`] nodes here and
//! resolved by `loader.rs`.
//!
//! | module       | role                                                                    |
//! |--------------|-------------------------------------------------------------------------|
//! | `node`       | [`Node`] and [`Kind`]: the tree everything else walks                   |
//! | `parse`      | [`parse`]: newline handling, forbidden characters, fatal errors         |
//! | `builder`    | parser events to nodes: anchors/aliases, documents, depth limit, with   |
//! |   `tags`     | scalar typing, YAML core and HA tags, quoted-tag warnings               |
//! |   `mapping`  | merge keys, unhashable and duplicate keys                               |
//! |   `keys`     | Python dict-key identity (`1 == true`), indexed for large mappings      |
//! | `resolve`    | YAML 1.1 implicit types (PyYAML's resolver and int/float constructors)  |
//! | [`position`] | byte offsets inside a scalar's value back to `line:column`              |
//! | [`source`]   | the files read, [`FileId`](source::FileId) and [`Pos`](source::Pos)     |

mod builder;
mod node;
mod parse;
pub mod position;
mod resolve;
pub mod source;

pub use node::{HaTag, Kind, Node, Placeholder, Style};
pub use parse::{Parsed, YamlIssue, parse};
