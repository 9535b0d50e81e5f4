/* Label placement for the fine-dust map: which sensor badges stand alone, which are
 * gathered into a group, and which have room for their long label.
 *
 * Plain functions over boxes in screen pixels (centre x, y; width w, height h): no Leaflet,
 * no DOM, so the placement can be reasoned about (and read) on its own. Exposed as
 * window.CitysmartAirGroups for air_map.js.
 */
(function () {
  "use strict";

  function overlaps(a, b, gap) {
    return Math.abs(a.x - b.x) < (a.w + b.w) / 2 + gap && Math.abs(a.y - b.y) < (a.h + b.h) / 2 + gap;
  }

  function distance(a, b) {
    return Math.hypot(a.x - b.x, a.y - b.y);
  }

  /* Gather items whose boxes overlap into groups until no two boxes overlap.
   *
   * items: [{x, y, w, h, ...}]; groupSize(members) -> {w, h} of a group's badge.
   * Returns clusters [{members, x, y, w, h}]: a single item keeps its own box; a group sits
   * at its members' mean position. The closest overlapping pair merges first, so nearby
   * sensors end up together rather than in whichever group was made first. A merged group
   * can overlap a third box, which then merges in turn: the loop ends because every merge
   * removes one cluster. Cost is about n^2 for the first pass plus n per merge for the
   * pairs of the new group, fine for the hundreds of sensors of a city.
   */
  function group(items, groupSize, gap) {
    let next = 0;
    const alive = new Map();
    const add = (members, box) => {
      const cluster = { id: next++, members, x: box.x, y: box.y, w: box.w, h: box.h };
      alive.set(cluster.id, cluster);
      return cluster;
    };
    for (const item of items) {
      add([item], item);
    }
    let pairs = [];
    const all = [...alive.values()];
    for (let i = 0; i < all.length; i++) {
      for (let j = i + 1; j < all.length; j++) {
        if (overlaps(all[i], all[j], gap)) {
          pairs.push({ a: all[i], b: all[j], d: distance(all[i], all[j]) });
        }
      }
    }
    while (pairs.length) {
      let best = pairs[0];
      for (const pair of pairs) {
        if (pair.d < best.d) {
          best = pair;
        }
      }
      alive.delete(best.a.id);
      alive.delete(best.b.id);
      const members = best.a.members.concat(best.b.members);
      const size = groupSize(members);
      const merged = add(members, {
        x: members.reduce((sum, m) => sum + m.x, 0) / members.length,
        y: members.reduce((sum, m) => sum + m.y, 0) / members.length,
        w: size.w,
        h: size.h,
      });
      pairs = pairs.filter((pair) => alive.has(pair.a.id) && alive.has(pair.b.id));
      for (const other of alive.values()) {
        if (other !== merged && overlaps(merged, other, gap)) {
          pairs.push({ a: merged, b: other, d: distance(merged, other) });
        }
      }
    }
    return [...alive.values()].map(({ members, x, y, w, h }) => ({ members, x, y, w, h }));
  }

  /* Give single items their wide label where it overlaps no other box.
   *
   * clusters: the result of group(); a single item may carry wide: {w, h}. Items are tried
   * in the order of rank(item) (smaller first), each against every box as it stands, so
   * a label that widens is an obstacle for the ones after it. Returns the set of items
   * that got their wide label.
   */
  function widen(clusters, rank, gap) {
    const boxes = clusters.map((c) => ({ x: c.x, y: c.y, w: c.w, h: c.h }));
    const order = clusters
      .map((c, i) => i)
      .filter((i) => clusters[i].members.length === 1 && clusters[i].members[0].wide)
      .sort((i, j) => rank(clusters[i].members[0]) - rank(clusters[j].members[0]) || i - j);
    const wide = new Set();
    for (const i of order) {
      const item = clusters[i].members[0];
      const box = { x: boxes[i].x, y: boxes[i].y, w: item.wide.w, h: item.wide.h };
      if (boxes.every((other, j) => j === i || !overlaps(box, other, gap))) {
        boxes[i] = box;
        wide.add(item);
      }
    }
    return wide;
  }

  window.CitysmartAirGroups = { group, widen, overlaps };
})();
