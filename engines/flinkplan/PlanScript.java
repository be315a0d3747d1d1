// A Flink SQL script parsed and planned by Flink's own table planner, as the writer image would run it, with no
// cluster: each CREATE executed (the Iceberg catalog reached at the strict stand-in), each INSERT explained, which
// builds its Kafka source and Iceberg sink and so validates every connector and format option.
//
//   java -cp classes:libs/* PlanScript job.sql <port> <token path> <warehouse> <scope>
//
// Prints `ok <statement's first line>` per statement, then `refused <causes>` at the first one Flink refuses, then
// the stand-in's request log (`request ...`). Exit 0 when every statement planned, 1 otherwise.

import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.flink.table.api.EnvironmentSettings;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.iceberg.rest.StandIn;

public class PlanScript {
    public static void main(String[] args) throws Exception {
        String script = Files.readString(Path.of(args[0]));
        StandIn standIn = new StandIn(Integer.parseInt(args[1]), args[2], args[3], args[4]);
        int code = 0;
        try {
            TableEnvironment env = TableEnvironment.create(EnvironmentSettings.inStreamingMode());
            // the FlinkDeployment's flinkConfiguration sets it; a TableEnvironment takes it on its config
            env.getConfig().set("table.local-time-zone", "UTC");
            // statements end in `;` and a blank line: a substituted JAAS value ends in `;` itself
            for (String statement : script.split(";\n\n")) {
                statement = statement.strip();
                if (statement.isEmpty()) {
                    continue;
                }
                String head = statement.lines().findFirst().orElse("");
                if (statement.startsWith("INSERT")) {
                    env.explainSql(statement);
                } else {
                    env.executeSql(statement);
                }
                System.out.println("ok " + head);
            }
        } catch (Throwable refused) {
            System.out.println("refused " + causes(refused));
            code = 1;
        }
        for (String line : standIn.log) {
            System.out.println("request " + line);
        }
        standIn.stop();
        System.out.flush();
        Runtime.getRuntime().halt(code);   // the catalog's token refresher and Flink's threads are not daemons
    }

    static String causes(Throwable error) {
        StringBuilder text = new StringBuilder();
        for (Throwable at = error; at != null; at = at.getCause()) {
            text.append(text.length() == 0 ? "" : " | caused by: ").append(at.getClass().getSimpleName())
                .append(": ").append(String.valueOf(at.getMessage()).replace('\n', ' '));
        }
        return text.toString();
    }
}
