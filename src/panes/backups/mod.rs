//! The Backups pane: every Velero Schedule of the watched clusters with the truth about its
//! RPO (the age of its newest backup that *completed*, not the last one submitted), the cron
//! read aloud and its next run, Prometheus' last success beside the API's; then running and
//! finished backups, restores and storage locations, what needs a human first. Detail views
//! for each kind; actions `backup-now` (as `velero backup create --from-schedule`), `pause`
//! and `resume`. Built on the pane kit: this folder holds the cron reading ([`cron`]), the
//! RPO rules ([`rpo`]), the rows ([`model`], [`view`]), Prometheus ([`prom`]), the detail
//! ([`detail`]) and the actions ([`actions`]).

pub mod actions;
pub mod cron;
pub mod detail;
pub mod detail_objects;
pub mod model;
pub mod pane;
pub mod prom;
pub mod rpo;
pub mod view;

pub use pane::{BackupsModel, BackupsPane};
