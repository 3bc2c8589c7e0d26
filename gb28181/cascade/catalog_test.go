package cascade

import (
	"reflect"
	"testing"
)

func TestDiffCatalog(t *testing.T) {
	a := channel{ID: "a", Name: "A", Online: true}
	b := channel{ID: "b", Name: "B", Online: true}
	c := channel{ID: "c", Name: "C", Online: true}
	bOff := b
	bOff.Online = false
	cRenamed := c
	cRenamed.Name = "C2"
	got := diffCatalog([]channel{a, b, c}, []channel{bOff, cRenamed, {ID: "d"}})
	var ev []string
	for _, e := range got {
		ev = append(ev, e.ch.ID+":"+e.event)
	}
	if want := []string{"b:OFF", "c:UPDATE", "d:ADD", "a:DEL"}; !reflect.DeepEqual(ev, want) {
		t.Fatalf("events %v, want %v", ev, want)
	}
	if it := got[0].eventItem(nil); it.Name != "" || it.Event != "OFF" {
		t.Fatalf("OFF item carries more than the id: %+v", it)
	}
	if it := got[2].eventItem(nil); it.Event != "ADD" || it.Status == "" {
		t.Fatalf("ADD item %+v", it)
	}
	if len(diffCatalog([]channel{a}, []channel{a})) != 0 {
		t.Fatal("no change, events")
	}
}

func TestBuildCatalogFilter(t *testing.T) {
	f := newFakeDJI()
	ids := newIDs(lowerID)
	all := buildCatalog(lowerID, ids, nil, f, nil)
	if len(all) != 5 || all[0].Kind != chanDevice || all[1].ParentID != all[0].ID {
		t.Fatalf("%+v", all)
	}
	zoom := buildCatalog(lowerID, ids, []string{"*/*/zoom-*"}, f, nil)
	if len(zoom) != 2 || zoom[0].SN != "AC1" || zoom[1].Path != "AC1/99-0-0/zoom-0" {
		t.Fatalf("filtered %+v", zoom) // the aircraft and its zoom camera; the dock has none offered
	}
	if it := zoom[0].toItem(f); it.Longitude == "" || it.Parental != "1" || it.Address != "AC1" {
		t.Fatalf("device item %+v", it)
	}
}

func TestCameraName(t *testing.T) {
	for _, tc := range []struct {
		d    Device
		c    Camera
		want string
	}{
		{Device{SN: "1581F5BKD225D00DBD56", Kind: KindDock}, Camera{Path: "1581F5BKD225D00DBD56/165-0-7/normal-0", Name: "165-0-7 normal"},
			"dock 165-0-7 normal 1581F5BKD225D00DBD56/165-0-7/normal-0"},
		{Device{SN: "AC1", Kind: KindAircraft, Name: "M3TD"}, Camera{Path: "AC1/99-0-0/normal-0", Name: "广角"}, "aircraft M3TD 广角 AC1/99-0-0/normal-0"},
		{Device{SN: "X"}, Camera{Path: "X/1"}, "X/1"},
	} {
		if got := cameraName(tc.d, tc.c); got != tc.want {
			t.Errorf("%q, want %q", got, tc.want)
		}
	}
}
