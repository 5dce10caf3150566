package vsa.spark

import org.apache.spark.sql.Row
import org.scalatest.funsuite.AnyFunSuite
import vsa.spark.expressions.ParseCmcd

class CmcdSpec extends AnyFunSuite with LocalSpark {

  private def parse(text: String): Row =
    spark.sql("SELECT vsa_parse_cmcd(t) AS c FROM VALUES (?) AS v(t)", Array[Any](text)).first().getStruct(0)

  test("every typed key of inputs.md from a header value") {
    val c = parse(
      "br=3200,bl=21300,bs,bsd=1200,cdn=\"cdn-a\",cid=\"movie-1\",d=4004,dl=18500,e=ps,msd=412,mtp=25400," +
        "nor=\"..%2F300kbps%2Fsegment35.m4v\",nrr=\"12323-48763\",ot=v,pr=1.25,rtp=15000,sf=d," +
        "sid=\"6e2fb550-c457-11e9-bb97-0800200c9a66\",st=v,sta=p,su,tb=6000,ts=1700000000000,ttfb=87,ttlb=431,v=2"
    )
    val expected = Map(
      "br" -> 3200L,
      "bl" -> 21300L,
      "bs" -> true,
      "bsd" -> 1200L,
      "cdn" -> "cdn-a",
      "cid" -> "movie-1",
      "d" -> 4004L,
      "dl" -> 18500L,
      "e" -> "ps",
      "msd" -> 412L,
      "mtp" -> 25400L,
      "nor" -> "../300kbps/segment35.m4v", // stored decoded
      "nrr" -> "12323-48763",
      "ot" -> "v",
      "pr" -> 1.25,
      "rtp" -> 15000L,
      "sf" -> "d",
      "sid" -> "6e2fb550-c457-11e9-bb97-0800200c9a66",
      "st" -> "v",
      "sta" -> "p",
      "su" -> true,
      "tb" -> 6000L,
      "ts" -> 1700000000000L,
      "ttfb" -> 87L,
      "ttlb" -> 431L,
      "v" -> 2L
    )
    assert(ParseCmcd.KeyNames.toSet == expected.keySet)
    for ((k, v) <- expected) assert(c.getAs[Any](k) == v, k)
    assert(c.getAs[Map[String, String]]("other").isEmpty)
    assert(c.getAs[String]("error") == null)
  }

  test("the query transport: the CMCD argument, URL-decoded, among other arguments") {
    val c = parse("token=abc&CMCD=bl%3D21300%2Cbr%3D3200%2Cbs%2Ccid%3D%22a%2Bb%22%2Cot%3Dv&x=1")
    assert(c.getAs[Long]("bl") == 21300L && c.getAs[Long]("br") == 3200L && c.getAs[Boolean]("bs"))
    assert(c.getAs[String]("cid") == "a+b") // %2B is a plus sign, and so would be a bare '+'
    assert(!c.getAs[Boolean]("su") && c.getAs[Long]("v") == 1L)
  }

  test("escapes, inner lists, unknown keys, parameters, booleans ?0 and ?1") {
    val c = parse("""cid="say \"hi\" \\ o/",br=(3000 1500),com.example-x="k",bs=?0,su=?1,nb;p=1,zz=12.5""")
    assert(c.getAs[String]("cid") == """say "hi" \ o/""")
    assert(c.getAs[Long]("br") == 3000L)
    assert(!c.getAs[Boolean]("bs") && c.getAs[Boolean]("su"))
    val flags = parse("bs=?0,su=?1")
    assert(!flags.getAs[Boolean]("bs") && flags.getAs[Boolean]("su") && flags.getAs[String]("error") == null)
    assert(
      c.getAs[Map[String, String]]("other") == Map(
        "br" -> "[3000,1500]",
        "com.example-x" -> "k",
        "nb" -> """{"$item":true,"$params":{"p":1}}""",
        "zz" -> "12.5"
      )
    )
  }

  test("v2 as players send it: lists with parameters, bg=?0, headers in any case, a query encoded twice") {
    val listed = parse("nor=(\"..%2F1.mp4\";r=\"0-100\" \"2.mp4\"),tab=(3000);p=2,bg=?0,v=2")
    assert(listed.getAs[String]("nor") == "../1.mp4" && listed.getAs[Long]("v") == 2L)
    assert(
      listed.getAs[Map[String, String]]("other") == Map(
        "nor" -> """[{"$item":"../1.mp4","$params":{"r":"0-100"}},"2.mp4"]""",
        "tab" -> """{"$item":[3000],"$params":{"p":2}}""",
        "bg" -> "false"
      )
    )
    val headers = parse("Host:cdn.example\ncmcd-object: br=(200)\r\nCMCD-Request: bl=(5000),su\nAccept: */*")
    assert(headers.getAs[Long]("br") == 200L && headers.getAs[Long]("bl") == 5000L && headers.getAs[Boolean]("su"))
    assert(spark.sql("SELECT vsa_parse_cmcd('Host: a\nAccept: b')").first().isNullAt(0))
    val twice = parse("/seg.m4s?CMCD=br%253D800%252Cnor%253D%2522..%25252Fs.m4v%2522")
    assert(twice.getAs[Long]("br") == 800L && twice.getAs[String]("nor") == "../s.m4v")
    val value = parse("br%3D800%2Cnor%3D%22..%252Fs.m4v%22") // the argument's value without `CMCD=`
    assert(value.getAs[Long]("br") == 800L && value.getAs[String]("nor") == "../s.m4v")
  }

  test("Akamai's query form: a lower-case name, a version prefix, quotes as %22, a stray closing quote") {
    val c = parse("cmcd=//1.0@V/bl=21600,cid=%22akam-email%22,sf=h,su,sf=d,st=v%22")
    assert(c.getAs[Long]("bl") == 21600L && c.getAs[String]("cid") == "akam-email" && c.getAs[Boolean]("su"))
    assert(c.getAs[String]("sf") == "d" && c.getAs[String]("st") == "v" && c.getAs[String]("error") == null)
  }

  test("no CMCD gives null; malformed dictionaries give an error, never an exception") {
    val none = spark.sql("SELECT vsa_parse_cmcd(t) FROM VALUES ('a=1&b=2'), (''), (NULL) AS v(t)").collect()
    assert(none.forall(_.isNullAt(0)))
    val broken = Seq(
      "br=3200," -> "trailing ','",
      "cid=\"open" -> "unterminated string",
      "Br=1" -> "expected a key",
      "br=\"3200\"" -> "br: expected an integer, got a string",
      "cid=\"a\\x\"" -> "backslash",
      "br=1.2345" -> "fractional digits",
      "br=12 bl=3" -> "expected ','",
      "CMCD=br%3" -> "percent-encoding"
    )
    for ((input, message) <- broken) {
      val c = parse(input)
      assert(c.getAs[String]("error") != null && c.getAs[String]("error").contains(message), input)
      assert(c.isNullAt(0), input)
    }
  }
}
