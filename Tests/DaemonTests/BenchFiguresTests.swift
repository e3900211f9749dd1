import BenchSupport
import Testing

/// What resmon-bench computes from what it reads: medians of runs with their range, figures from
/// Prometheus's text format, and the machine from /proc.
@Suite struct BenchFiguresTests {
    @Test func aSpreadIsTheMedianAndTheRangeOfTheRunsThatGaveANumber() throws {
        let odd = try #require(Spread([17.2, 20.3, 17.0]))
        #expect(odd == Spread([17.0, 17.2, 20.3]))
        #expect(odd.median == 17.2 && odd.minimum == 17.0 && odd.maximum == 20.3 && odd.runs == 3)
        let even = try #require(Spread([4, 1, .nan, 2, 3]))
        #expect(even.median == 2.5 && even.runs == 4)
        #expect(Spread([.nan]) == nil && Spread([]) == nil)
    }

    @Test func valuesAndTheLongestObservationFromTheExpositionFormat() {
        let text = """
            # HELP prometheus_target_interval_length_seconds Actual intervals between scrapes.
            # TYPE prometheus_target_interval_length_seconds summary
            prometheus_target_interval_length_seconds{interval="15s",quantile="0.5"} 15.0
            prometheus_target_interval_length_seconds_count{interval="15s"} 7
            prometheus_target_interval_length_seconds_count{interval="1s"} 59
            resmon_cycle_duration_seconds_bucket{le="0.005"} 10
            resmon_cycle_duration_seconds_bucket{le="0.05"} 118
            resmon_cycle_duration_seconds_bucket{le="0.1"} 120
            resmon_cycle_duration_seconds_bucket{le="+Inf"} 120
            resmon_cycle_duration_seconds_count 120
            empty_seconds_bucket{le="+Inf"} 0
            resmon_busy 0
            odd_label{path="a,b=\\"c\\"",le="1"} 3 1700000000000
            """
        #expect(ExpositionText.value(of: "prometheus_target_interval_length_seconds_count", labels: ["interval": "1s"], in: text) == 59)
        #expect(ExpositionText.value(of: "resmon_busy", in: text) == 0)
        #expect(ExpositionText.value(of: "odd_label", labels: ["path": "a,b=\"c\"", "le": "1"], in: text) == 3)
        #expect(ExpositionText.value(of: "resmon_absent", in: text) == nil)
        #expect(ExpositionText.largestObservationBound(ofHistogram: "resmon_cycle_duration_seconds", in: text) == 0.1)
        #expect(ExpositionText.largestObservationBound(ofHistogram: "empty_seconds", in: text) == nil)
        let slow = text + "\nslow_bucket{le=\"1\"} 3\nslow_bucket{le=\"+Inf\"} 4"
        #expect(ExpositionText.largestObservationBound(ofHistogram: "slow", in: slow) == .infinity)
        // Since an earlier scrape: only the cycles after it, none of which passed 0.005 s.
        let earlier = """
            resmon_cycle_duration_seconds_bucket{le="0.005"} 2
            resmon_cycle_duration_seconds_bucket{le="0.05"} 110
            resmon_cycle_duration_seconds_bucket{le="0.1"} 112
            resmon_cycle_duration_seconds_bucket{le="+Inf"} 112
            """
        #expect(ExpositionText.largestObservationBound(ofHistogram: "resmon_cycle_duration_seconds", in: text, since: earlier) == 0.005)
        #expect(ExpositionText.largestObservationBound(ofHistogram: "resmon_cycle_duration_seconds", in: text, since: text) == nil)
    }

    @Test func theMachineFromProc() {
        let machine = MachineDescription(
            cpuinfo: "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n",
            meminfo: "MemTotal:       24575812 kB\nMemFree:        22000000 kB\n", stat: "cpu  1 2 3\nprocs_running 3\nprocs_blocked 0\n",
            kernel: "6.1.0-18-amd64", cores: 2, processes: 87)
        #expect(machine.cpuModel == "AMD EPYC 7B13" && machine.cores == 2 && machine.running == 3 && machine.processes == 87)
        #expect(machine.memoryBytes == 24_575_812 * 1024)
        #expect(machine.summary == "AMD EPYC 7B13, 2 cores, 23.4 GiB, Linux 6.1.0-18-amd64; 87 processes, 3 running")
        let here = MachineDescription.current()
        #expect(here.cores >= 1 && here.processes >= 1 && here.memoryBytes > 0 && !here.kernel.isEmpty)
    }
}
