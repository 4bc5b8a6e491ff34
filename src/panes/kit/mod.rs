//! The pane kit: what every pane needs, written once. [`TablePane`] is a whole pane around a
//! [`PaneModel`] (rows, columns, detail view, actions); the parts it is built from are here
//! for panes of another shape (the Clusters pane): the row cache and order ([`rows`]), the
//! table as data ([`list`]), the source-state title and empty texts ([`health`]), and the
//! detail frame with the object's events ([`detail`]).

pub mod detail;
pub mod health;
pub mod list;
pub mod model;
pub mod rows;
pub mod table_pane;

pub use detail::{DetailFrame, EventLine, ObjectKey, event_lines};
pub use health::{EmptyTexts, PaneHealth, Styled, worst};
pub use list::ListView;
pub use model::{DetailCx, DrawCx, PaneModel, PromView, RowCx, WatchedContext};
pub use rows::{Inputs, ListRow, RowCache, sort_rows};
pub use table_pane::TablePane;
