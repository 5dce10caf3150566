import scala.io.Source

// One Spark version for the whole project: the pyspark pin in python/requirements.txt.
val sparkVersion: String = {
  val pin = """^pyspark==([0-9][0-9A-Za-z.\-]*)\s*$""".r
  val source = Source.fromFile("python/requirements.txt")
  try
    source
      .getLines()
      .collectFirst { case pin(v) => v }
      .getOrElse(sys.error("no pyspark== pin in python/requirements.txt"))
  finally source.close()
}

// The jar's version follows the Python package's.
val vsaVersion: String = {
  val line = """^version\s*=\s*"([^"]+)"\s*$""".r
  val source = Source.fromFile("pyproject.toml")
  try source.getLines().collectFirst { case line(v) => v }.getOrElse(sys.error("no version in pyproject.toml"))
  finally source.close()
}

val kafkaBrokerVersion = "4.1.1"
val log4jVersion = "2.25.4"

// Extra dependency sets resolved at build time and copied out of the build, never at run time.
val KafkaConnector = config("kafka-connector").hide
val KafkaBroker = config("kafka-broker").hide

// Jars of the Kafka connector that the pyspark distribution does not already ship.
val connectorModules =
  Set("spark-sql-kafka-0-10_2.13", "spark-token-provider-kafka-0-10_2.13", "kafka-clients", "commons-pool2")

val bundleJars = taskKey[Seq[File]]("Copies the vsa-spark jar and the Kafka connector jars into python/vsa/jars")
val kafkaBrokerLib = taskKey[File]("Copies a Kafka broker's runtime classpath into .vsa/kafka/lib")

ThisBuild / scalaVersion := "2.13.18"
ThisBuild / organization := "io.vsa"
ThisBuild / version := vsaVersion

lazy val root = (project in file("."))
  .aggregate(vsaSpark)
  .settings(publish / skip := true)

lazy val vsaSpark = (project in file("scala"))
  .configs(KafkaConnector, KafkaBroker)
  .settings(
    name := "vsa-spark",
    scalacOptions ++= Seq("-deprecation", "-feature", "-unchecked", "-release", "17"),
    libraryDependencies ++= Seq(
      "org.apache.spark" %% "spark-sql" % sparkVersion % Provided,
      // The Kafka client that Spark's Kafka connector brings (bundled in the wheel beside it).
      "org.apache.kafka" % "kafka-clients" % "3.9.2" % Provided,
      // GeoIP: MaxMind's DB reader alone (no dependencies, no Jackson), not the geoip2 client.
      "com.maxmind.db" % "maxmind-db" % "4.1.0",
      "org.scalatest" %% "scalatest" % "3.2.19" % Test,
      "org.apache.spark" %% "spark-sql-kafka-0-10" % sparkVersion % KafkaConnector,
      "org.apache.kafka" %% "kafka" % kafkaBrokerVersion % KafkaBroker,
      "org.apache.kafka" % "kafka-tools" % kafkaBrokerVersion % KafkaBroker,
      "org.apache.logging.log4j" % "log4j-core" % log4jVersion % KafkaBroker,
      "org.apache.logging.log4j" % "log4j-slf4j2-impl" % log4jVersion % KafkaBroker
    ),
    Test / fork := true,
    Test / javaOptions ++= Seq(
      "-Xmx2g",
      "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
      "--add-opens=java.base/java.nio=ALL-UNNAMED"
    ),
    // the versions on Spark's classpath.
    assembly / assemblyPackageScala / assembleArtifact := false,
    assembly / assemblyJarName := s"vsa-spark_2.13-${version.value}.jar",
    assembly / assemblyShadeRules := Seq(
      ShadeRule.rename("org.yaml.snakeyaml.**" -> "vsa.shaded.snakeyaml.@1").inAll,
      ShadeRule.rename("org.apache.commons.collections4.**" -> "vsa.shaded.collections4.@1").inAll,
      // so an application that has its own maxmind-db (or geoip2) on the classpath keeps it
      ShadeRule.rename("com.maxmind.**" -> "vsa.shaded.maxmind.@1").inAll
    ),
    assembly / assemblyMergeStrategy := {
      case PathList("META-INF", "versions", _, "module-info.class") => MergeStrategy.discard
      case "module-info.class"                                      => MergeStrategy.discard
      case other                                                    => (assembly / assemblyMergeStrategy).value(other)
    },
    bundleJars := {
      val out = (ThisBuild / baseDirectory).value / "python" / "vsa" / "jars"
      IO.delete(out)
      val connector = update.value
        .select(configurationFilter(KafkaConnector.name))
        .filter(jar => connectorModules.exists(m => jar.getName.startsWith(m + "-")))
      val jars = assembly.value +: connector
      jars.map { jar =>
        val target = out / jar.getName
        IO.copyFile(jar, target)
        target
      }
    },
    kafkaBrokerLib := {
      val out = (ThisBuild / baseDirectory).value / ".vsa" / "kafka" / kafkaBrokerVersion / "lib"
      IO.delete(out)
      update.value.select(configurationFilter(KafkaBroker.name)).foreach(jar => IO.copyFile(jar, out / jar.getName))
      out
    }
  )
