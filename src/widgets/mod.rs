//! Shared widgets: the resource table, overlays, inputs. Written once, used by every pane.

pub mod chart;
pub mod help;
pub mod input;
pub mod popup;
pub mod table;
pub mod text;
