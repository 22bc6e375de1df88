//! Templates: found where HA renders them, parsed with minijinja, walked for names HA's
//! environment does not have; positions mapped back through every YAML scalar style.

mod check_common;

use check_common::{Cfg, dump, expect, expect_at, expect_clean, expect_none, with_code};
use gitops_bridge::validate::Code;

fn automation_with(action_yaml: &str) -> String {
    format!(
        "automation:\n  - alias: t\n    triggers:\n      - trigger: state\n        entity_id: sun.sun\n    actions:\n{action_yaml}"
    )
}

#[test]
fn syntax_error_in_a_block_scalar_maps_to_the_file() {
    let c = Cfg::new(&[(
        "configuration.yaml",
        &automation_with(
            "      - action: persistent_notification.create\n        data:\n          message: >\n            {% if is_state('sun.sun', 'above_horizon') %}\n              Day {{ now().hour ) }}\n            {% endif %}\n",
        ),
    )]);
    let r = c.check();
    expect_at(&r, Code::TemplateSyntax, "configuration.yaml", 11, 33);
}

#[test]
fn unknown_function_filter_and_test_in_every_style() {
    let c = Cfg::new(&[(
        "configuration.yaml",
        &automation_with(
            "      - condition: template\n        value_template: '{{ statest(\"sensor.a\") == \"1\" }}'\n      - action: persistent_notification.create\n        data:\n          title: \"x {{ states('sensor.a') | flaot }}\"\n          message: |\n            {% if states('sensor.a') is numbr %}\n              {{ states('sensor.a') | timestamp_costum('%H') }}\n            {% endif %}\n",
        ),
    )]);
    let r = c.check();
    let d = expect_at(
        &r,
        Code::TemplateUnknownFunction,
        "configuration.yaml",
        8,
        29,
    );
    assert_eq!(d.hint.as_deref(), Some("did you mean `states`?"));
    let d = expect_at(
        &r,
        Code::TemplateUnknownFilter,
        "configuration.yaml",
        11,
        45,
    );
    assert_eq!(d.hint.as_deref(), Some("did you mean `float`?"));
    let d = expect_at(&r, Code::TemplateUnknownTest, "configuration.yaml", 13, 41);
    assert_eq!(d.hint.as_deref(), Some("did you mean `number`?"));
    let d = expect_at(
        &r,
        Code::TemplateUnknownFilter,
        "configuration.yaml",
        14,
        39,
    );
    assert_eq!(d.hint.as_deref(), Some("did you mean `timestamp_custom`?"));
}

#[test]
fn filter_inside_if_that_jinja_only_checks_at_run_time() {
    let c = Cfg::new(&[(
        "configuration.yaml",
        "template:\n  - sensor:\n      - name: Outage\n        state: >-\n          {% if states('sensor.ts') | int(0) > 0 %}\n            {{ as_datetime(states('sensor.ts')) | as_local | strftime('%I:%M %p') }}\n          {% else %}unknown{% endif %}\n",
    )]);
    let r = c.check();
    let d = expect_at(&r, Code::TemplateUnknownFilter, "configuration.yaml", 6, 62);
    assert!(
        d.hint.as_deref().unwrap_or("").contains("strftime"),
        "{}",
        dump(&r)
    );
}

#[test]
fn ha_names_jinja_builtins_macros_and_context_are_known() {
    let c = Cfg::new(&[(
        "configuration.yaml",
        &automation_with(
            r#"      - variables:
          lights: "{{ area_entities('kitchen') | select('match', 'light.') | list }}"
      - repeat:
          for_each: "{{ lights }}"
          sequence:
            - action: light.turn_on
              target:
                entity_id: "{{ repeat.item }}"
              data:
                brightness: >
                  {% macro level(x) %}{{ (x | float(0) * 2.55) | round(0) | int }}{% endmacro %}
                  {% set ns = namespace(total=0) %}
                  {% for s in states.sensor if s.state is number %}{% set ns.total = ns.total + 1 %}{% endfor %}
                  {{ level(trigger.to_state.state) if trigger is defined else iif(now().hour > 20, 10, 255) }}
      - wait_for_trigger:
          - trigger: template
            value_template: "{{ wait.remaining > 0 and this.state == 'on' and (value_json.x | default(0)) | is_number }}"
      - action: notify.mobile
        data:
          message: "{{ [1,2] | map('string') | join(', ') }} {{ 'x' | slugify }} {{ timedelta(minutes=5) }} {{ range(3) | list | sum }}"
"#,
        ),
    )]);
    let r = c.check();
    expect_clean(&r);
    assert!(r.summary.templates >= 5);
}

#[test]
fn limited_templates_have_no_state_functions() {
    let c = Cfg::new(&[(
        "configuration.yaml",
        "automation:\n  - alias: t\n    trigger_variables:\n      room: \"{{ states('input_text.room') }}\"\n      base: \"{{ 'home/' ~ (now().year | string) }}\"\n    triggers:\n      - trigger: mqtt\n        topic: \"{{ base }}/{{ room }}/{{ is_state('sun.sun', 'above_horizon') }}\"\n        payload: \"on\"\n        value_template: \"{{ states('sensor.x') }}\"\n    actions: []\n",
    )]);
    let r = c.check();
    expect_at(&r, Code::TemplateLimited, "configuration.yaml", 4, 17);
    expect_at(&r, Code::TemplateLimited, "configuration.yaml", 5, 28);
    expect_at(&r, Code::TemplateLimited, "configuration.yaml", 8, 42);
    assert_eq!(
        with_code(&r, Code::TemplateLimited).len(),
        3,
        "value_template of an MQTT trigger is not limited: {}",
        dump(&r)
    );
}

#[test]
fn custom_templates_imports_are_resolved() {
    let c = Cfg::new(&[
        (
            "custom_templates/tools.jinja",
            "{% macro greet(name) %}Hello {{ name }}{% endmacro %}\n{% set sep = ', ' %}\n{% macro bad() %}{{ nope_fn() }}{% endmacro %}\n",
        ),
        (
            "configuration.yaml",
            &automation_with(
                "      - action: persistent_notification.create\n        data:\n          message: >\n            {% from 'tools.jinja' import greet, sep, gret %}{{ greet('x') }}\n            {% import 'tools.jinja' as t %}{{ t.greet('y') }}{{ t.grete('z') }}\n            {% from 'missing.jinja' import z %}\n",
            ),
        ),
    ]);
    let r = c.check();
    let d = expect(&r, Code::TemplateImportUnknown, "configuration.yaml", 10);
    assert!(
        d.message.contains("`gret`") && d.hint.as_deref() == Some("did you mean `greet`?"),
        "{}",
        dump(&r)
    );
    expect(&r, Code::TemplateImportUnknown, "configuration.yaml", 11);
    expect_at(
        &r,
        Code::TemplateImportMissing,
        "configuration.yaml",
        12,
        21,
    );
    // the custom template's own body is checked too, with its position
    expect_at(
        &r,
        Code::TemplateUnknownFunction,
        "custom_templates/tools.jinja",
        3,
        21,
    );
    assert_eq!(
        with_code(&r, Code::TemplateUnknownFunction).len(),
        1,
        "greet/sep come from the import: {}",
        dump(&r)
    );
}

#[test]
fn mutation_of_immutable_values() {
    let c = Cfg::new(&[(
        "configuration.yaml",
        "template:\n  - sensor:\n      - name: ids\n        state: >\n          {% set ids = [] %}\n          {% for s in states.light %}{% do ids.append(s.entity_id) %}{% endfor %}\n          {{ ids | count }}\n",
    )]);
    expect_at(
        &c.check(),
        Code::TemplateMutation,
        "configuration.yaml",
        6,
        48,
    );
}

#[test]
fn misspelt_context_variable() {
    let c = Cfg::new(&[(
        "configuration.yaml",
        &automation_with(
            "      - action: notify.x\n        data:\n          message: \"{{ triger.to_state.name }} and {{ my_var.x }}\"\n",
        ),
    )]);
    let r = c.check();
    let d = expect_at(
        &r,
        Code::TemplateUnknownVariable,
        "configuration.yaml",
        9,
        24,
    );
    assert_eq!(d.hint.as_deref(), Some("did you mean `trigger`?"));
    assert_eq!(
        with_code(&r, Code::TemplateUnknownVariable).len(),
        1,
        "only near misses: {}",
        dump(&r)
    );
}

#[test]
fn declared_variables_are_not_typos() {
    let c = Cfg::new(&[(
        "configuration.yaml",
        "script:\n  s:\n    fields:\n      triger: {}\n    sequence:\n      - action: notify.x\n        data:\n          message: \"{{ triger.name }}\"\n",
    )]);
    expect_none(&c.check(), Code::TemplateUnknownVariable);
}

#[test]
fn strings_ha_never_renders_are_skipped() {
    let c = Cfg::new(&[
        (
            "configuration.yaml",
            "homeassistant:\n  customize:\n    sensor.x:\n      friendly_name: \"{{ nope_a() }}\"\nlovelace:\n  mode: yaml\nautomation:\n  - alias: \"{{ nope_b() }}\"\n    description: \"Uses {{ nope_c() }} in text\"\n    triggers: []\n    actions: []\n",
        ),
        (
            "ui-lovelace.yaml",
            "views:\n  - cards:\n      - type: markdown\n        content: \"{{ nope_d() }} {% if x %}[[[ return 1 ]]]\"\n",
        ),
    ]);
    let r = c.check();
    expect_none(&r, Code::TemplateUnknownFunction);
    expect_none(&r, Code::TemplateSyntax);
}

#[test]
fn jinja2_syntax_that_minijinja_is_strict_about() {
    let c = Cfg::new(&[(
        "configuration.yaml",
        &automation_with(
            "      - action: notify.x\n        data:\n          message: \"{{ +1 }} {% for i in range(3) %}{% if i %}{% break %}{% endif %}{% endfor %}\"\n",
        ),
    )]);
    expect_none(&c.check(), Code::TemplateSyntax);
}

#[test]
fn blueprints_are_checked_but_not_their_metadata() {
    let c = Cfg::new(&[
        ("configuration.yaml", "automation: []\n"),
        (
            "blueprints/automation/me/motion.yaml",
            "blueprint:\n  name: Motion\n  description: \"{{ not_a_template() }}\"\n  domain: automation\n  input:\n    light:\n      name: Light\ntriggers: []\nactions:\n  - action: light.turn_on\n    target: !input light\n    data:\n      brightness: \"{{ brigthness_for(now()) }}\"\n",
        ),
    ]);
    let r = c.check();
    expect(
        &r,
        Code::TemplateUnknownFunction,
        "blueprints/automation/me/motion.yaml",
        13,
    );
    assert_eq!(
        with_code(&r, Code::TemplateUnknownFunction).len(),
        1,
        "{}",
        dump(&r)
    );
}
