//! Placement of overlays (help, confirm dialog) over the main screen.

use ratatui::layout::Rect;

/// A `width` x `height` rectangle centred in `area`, shrunk to fit.
#[must_use]
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}
