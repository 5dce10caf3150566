package vsa.spark.cdn

import org.apache.spark.sql.catalyst.util.{ArrayData, GenericArrayData}
import org.apache.spark.unsafe.types.UTF8String
import vsa.spark.cdn.LineRequest.{dash, indexOf, slice}

/** The tab-separated formats' lines (CloudFront standard and real-time logs): the fields named `read`, found by the
  * names of the line's field list (its `#Fields:` line, or the configured list), `-` for missing. A line may be shorter
  * than its list (an older layout: the fields it lacks are null) or longer (ignored), but not shorter than the oldest
  * layout's 23 fields unless its list is.
  */
final class TabLine(read: Array[String]) extends Serializable {

  // The positions of the read fields in the last field list seen (the list as given, a copy of it, the positions):
  // every line of a file has the same list.
  @transient @volatile private var layout: (ArrayData, ArrayData, Array[Int]) = _

  /** The fields of `line` under the field list `names`. */
  def fields(line: UTF8String, names: ArrayData): TabLine.Fields =
    new TabLine.Fields(line, TabLine.starts(line), positionsIn(names), names.numElements())

  private def positionsIn(names: ArrayData): Array[Int] = {
    val known = layout
    // A constant list (the configured or documented one, a file's) is the same immutable object on every row; any other
    // (an UnsafeArrayData) may be a view of a reused buffer, so it is compared with the copy.
    if (known != null && names.isInstanceOf[GenericArrayData] && (known._1 eq names)) return known._3
    if (known != null && known._2 == names) return known._3
    val listed =
      (0 until names.numElements()).map(i => if (names.isNullAt(i)) null else names.getUTF8String(i).toString)
    val positions = read.map(name => listed.indexOf(name))
    layout = (names, names.copy(), positions)
    positions
  }
}

object TabLine {

  // The fewest fields a row may have: the 2016 layout's 23 (newer layouts add fields at the end).
  val MinFields = 23

  /** A line's fields: `starts` as [[TabLine.starts]] gives them, `positions` those of the read fields in the list of
    * `listed` names (-1: not listed).
    */
  final class Fields(line: UTF8String, starts: Array[Int], positions: Array[Int], listed: Int) {
    private val count = starts.length - 1 // starts holds one past the end of the last field too

    /** The read field `index` (of `read`), null when not listed, beyond the line's end, or `-`. */
    def apply(index: Int): UTF8String = {
      val p = positions(index)
      if (p < 0 || p >= count) null else dash(slice(line, starts(p), starts(p + 1) - 1))
    }

    /** Whether field `index` is in the field list. */
    def listed(index: Int): Boolean = positions(index) >= 0

    /** Why the line is rejected for its number of fields (`bad_field_count`), null when it has enough. */
    def tooShort: String =
      if (count >= math.min(listed, MinFields)) null
      else s"$count tab-separated fields, fewer than the oldest layout's $MinFields (its field list has $listed)"
  }

  /** The start of each tab-separated field, and one more entry: one past the end of the line plus one (so field `i` is
    * `[starts(i), starts(i + 1) - 1)`).
    */
  private[cdn] def starts(line: UTF8String): Array[Int] = {
    var starts = new Array[Int](64)
    var count = 1
    var from = 0
    var tab = indexOf(line, '\t', from)
    while (tab >= 0) {
      if (count == starts.length) starts = java.util.Arrays.copyOf(starts, count * 2)
      starts(count) = tab + 1
      count += 1
      from = tab + 1
      tab = indexOf(line, '\t', from)
    }
    if (count == starts.length) starts = java.util.Arrays.copyOf(starts, count + 1)
    starts(count) = line.numBytes + 1
    java.util.Arrays.copyOf(starts, count + 1)
  }
}
