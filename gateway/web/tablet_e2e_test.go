package web_test

import (
	"testing"

	"github.com/skyrelay/skyrelay/internal/gwproc"
)

// device is a touch device Chromium emulates (run.mjs's "device").
type device struct {
	IsMobile          bool `json:"isMobile"`
	HasTouch          bool `json:"hasTouch"`
	DeviceScaleFactor int  `json:"deviceScaleFactor"`
}

// An iPad-sized tablet, turned either way.
var (
	tablet    = &device{IsMobile: true, HasTouch: true, DeviceScaleFactor: 2}
	landscape = &viewport{Width: 1024, Height: 768}
	portrait  = &viewport{Width: 768, Height: 1024}
)

func tap(sel string) map[string]any { return map[string]any{"tap": sel} }

// overflow is a page expression: how many CSS pixels the page is wider
// than the screen (0 when nothing scrolls sideways).
const overflow = `document.documentElement.scrollWidth - document.documentElement.clientWidth`

// oldSafariFullscreen leaves only the webkit-prefixed full-screen calls,
// as Safari before 16.4 (on iPads too) has them; Chromium has both.
const oldSafariFullscreen = `delete Element.prototype.requestFullscreen; delete Document.prototype.exitFullscreen;
delete Document.prototype.fullscreenElement;`

// TestTabletConsoleAndWall: on an iPad-sized touch screen, held either way,
// the console and a 4-tile wall fit the width, the console's buttons are
// finger-sized, a tap on Start really starts the dock camera and a tap on
// Stop stops it, every wall tile decodes frames, and the wall's Full
// screen button works where only the webkit-prefixed calls exist.
func TestTabletConsoleAndWall(t *testing.T) {
	g := gwproc.Start(t, "")
	devices(t, g, nil)
	pushLive(t, g, "live/a", "live/b", "live/c")
	cam := `[data-video="` + dockCam + `"]`
	var con struct {
		Landscape, Portrait int
		Coarse              bool
		Button              float64
	}
	browser(t, job{
		URL: g.URL("/"), Viewport: landscape, Device: tablet,
		WaitFor: `document.querySelectorAll('.device').length === 2 && document.querySelector('[data-path="live/a"]') && document.querySelector('` + cam + ` button[data-act=start]:not([disabled])')`,
		Actions: []map[string]any{
			waitFor(`(window.__land = ` + overflow + `, true)`),
			shot(shotPath(t, "tablet-console-landscape.png")),
			tap(cam + " button[data-act=start]"),
			waitFor(`document.querySelector('` + cam + `[data-live="1"] button[data-act=stop]')`),
			resize(portrait),
			waitFor(`innerWidth === 768`),
			shot(shotPath(t, "tablet-console-portrait.png")),
			tap(cam + " button[data-act=stop]"),
			waitFor(`document.querySelector('` + cam + `[data-live="0"] button[data-act=start]:not([disabled])')`),
		},
		Evaluate: `JSON.stringify({landscape: __land, portrait: ` + overflow + `, coarse: matchMedia('(pointer: coarse)').matches,
			button: document.querySelector('` + cam + ` button[data-act=start]').getBoundingClientRect().height})`,
	}, &con)
	if con.Landscape > 0 || con.Portrait > 0 {
		t.Errorf("the console scrolls sideways on a tablet: %d px in landscape, %d px in portrait", con.Landscape, con.Portrait)
	}
	if !con.Coarse || con.Button < 44 {
		t.Errorf("on a touch screen (pointer: coarse %v) Start is %.0f px high, want at least 44", con.Coarse, con.Button)
	}
	waitGone(t, g, dockCam)

	var wall struct {
		Landscape, Portrait int
		Frames              []int
		Cells               int
	}
	browser(t, job{
		URL: g.URL("/wall?paths=live/a,live/b,live/c," + rcCam + "&osd=1"), Viewport: landscape, Device: tablet,
		InitScript: oldSafariFullscreen,
		WaitFor:    `window.skyWall && skyWall.tiles.length === 4 && skyWall.tiles.every(t => t.state === 'playing' && t.frames > 25)`,
		Actions: []map[string]any{
			waitFor(`(window.__land = ` + overflow + `, window.__first = skyWall.tiles.map(t => t.frames), true)`),
			shot(shotPath(t, "tablet-wall-landscape.png")),
			resize(portrait),
			waitFor(`innerWidth === 768 && skyWall.tiles.every((t, i) => t.frames > __first[i] + 25)`),
			shot(shotPath(t, "tablet-wall-portrait.png")),
			// Full screen the way Safari on iPadOS before 16.4 offers it.
			tap(`#wall-bar button:last-child`),
			waitFor(`document.webkitFullscreenElement === document.documentElement`),
			tap(`#wall-bar button:last-child`),
			waitFor(`!document.webkitFullscreenElement`),
		},
		Evaluate: `JSON.stringify({landscape: __land, portrait: ` + overflow + `, frames: skyWall.tiles.map(t => t.frames), cells: document.querySelectorAll('.tile').length})`,
	}, &wall)
	if wall.Landscape > 0 || wall.Portrait > 0 || wall.Cells != 4 {
		t.Errorf("tablet wall: %d cells, %d px too wide in landscape, %d px in portrait", wall.Cells, wall.Landscape, wall.Portrait)
	}
	t.Logf("tablet wall frames %v", wall.Frames)
}
